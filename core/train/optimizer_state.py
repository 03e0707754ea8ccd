"""An optimiser's state in a checkpoint: split into tensors and JSON, checked, joined again.

Everything read back from a sidecar is checked against the live optimiser before torch sees it:
the parameter groups (their number, keys, parameters, and every setting's type and length), and
every saved tensor (a parameter this optimiser has, a ``step`` counter of one element, any other
tensor a floating-point tensor of its parameter's exact shape and rank). torch's optimisers
trust their state: a moment of another rank (a 0-dim tensor) reaches their compiled kernels and
corrupts memory, so nothing unchecked may pass.

The settings of the spec (betas, eps, weight decay, ...) are kept on resume, so an edited lock
file takes effect; a checkpoint that saved other settings is announced. The learning rate is a
function of the step and is set by the loop.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, Field

from zsk.registry import UserError

#: group keys that are not settings: the parameters, and the learning rate the loop sets
_NOT_SETTINGS = frozenset({"params", "lr", "initial_lr"})
_FIX = "resume with the spec it was written for, or start a new run directory"


class OptimizerRecord(BaseModel):
    param_groups: list[dict[str, Any]]
    plain_state: dict[str, dict[str, float | int | bool | None]] = Field(default_factory=dict)


def split_optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors (``<prefix>.<param index>.<name>``) for safetensors, the rest for JSON."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{name}"] = value
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "plain_state": plain}


def _same_form(saved: Any, live: Any) -> bool:
    """``saved`` has ``live``'s type (int and float alike), length and, inside, form."""
    if isinstance(live, bool) or live is None or isinstance(live, str):
        return type(saved) is type(live)
    if isinstance(live, (int, float)):
        return isinstance(saved, (int, float)) and not isinstance(saved, bool)
    if isinstance(live, (list, tuple)):
        return (
            isinstance(saved, (list, tuple))
            and len(saved) == len(live)
            and all(_same_form(s, v) for s, v in zip(saved, live, strict=True))
        )
    if isinstance(live, dict):
        return (
            isinstance(saved, dict)
            and set(saved) == set(live)
            and all(_same_form(saved[k], v) for k, v in live.items())
        )
    return type(saved) is type(live)


def _groups_problem(saved_groups: list[dict[str, Any]], live: list[dict[str, Any]]) -> str | None:
    if len(saved_groups) != len(live):
        return f"{len(saved_groups)} parameter groups where this run has {len(live)}"
    for saved, current in zip(saved_groups, live, strict=True):
        if set(saved) != set(current):
            return f"parameter group keys {sorted(saved)} differ from {sorted(current)}"
        if saved["params"] != current["params"]:
            return "another set of parameters"
        bad = [k for k in current if not _same_form(saved[k], current[k])]
        if bad:
            key = bad[0]
            return f"setting {key!r} is {saved[key]!r}, where this run has {current[key]!r}"
    return None


def _tensor_problem(name: str, value: torch.Tensor, param: torch.Tensor, index: int) -> str | None:
    if name == "step":
        if value.dim() != 0:
            return f"step of parameter {index} has shape {tuple(value.shape)}, not a single number"
        return None
    if not value.is_floating_point():
        return f"{name} of parameter {index} is {value.dtype}, not floating point"
    if value.shape != param.shape:
        return (
            f"{name} of parameter {index} has shape {tuple(value.shape)}, "
            f"the parameter {tuple(param.shape)}"
        )
    return None


def _state_problem(
    params: list[torch.Tensor],
    tensors: dict[str, torch.Tensor],
    plain: dict[str, dict[str, Any]],
    prefix: str,
) -> str | None:
    names: dict[int, set[str]] = {}
    entries = [(k[len(prefix) + 1 :], v) for k, v in tensors.items() if k.startswith(prefix + ".")]
    entries += [(f"{i}.{name}", None) for i, values in plain.items() for name in values]
    for key, value in entries:
        index, _, name = key.partition(".")
        if not index.isdigit() or int(index) >= len(params):
            return f"state for parameter {index!r}, which this run does not have"
        if value is not None:
            problem = _tensor_problem(name, value, params[int(index)], int(index))
            if problem:
                return problem
        names.setdefault(int(index), set()).add(name)
    kinds = {frozenset(n) for n in names.values()}
    if len(kinds) > 1:
        shown = " vs ".join(f"[{', '.join(sorted(kind))}]" for kind in kinds)
        return f"parameters with different state entries ({shown})"
    return None


def check_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    record: OptimizerRecord,
    prefix: str,
    where: str,
) -> None:
    """Refuse saved optimiser state that does not fit ``optimizer``: other groups, settings of
    another type or length, parameters it does not have, tensors of another shape or rank."""
    live = optimizer.state_dict()["param_groups"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    problem = _groups_problem(record.param_groups, live) or _state_problem(
        params, tensors, record.plain_state, prefix
    )
    if problem:
        raise UserError(
            f"checkpoint {where}: the {prefix} optimiser state does not fit this run: {problem}",
            hint=_FIX,
        )


def settings_changed(optimizer: torch.optim.Optimizer, record: OptimizerRecord) -> list[str]:
    """The settings (not the learning rate) in which ``record`` differs from ``optimizer``."""
    live = optimizer.state_dict()["param_groups"]
    return [
        f"{key} {_plain(saved[key])!r} in the checkpoint, {_plain(current[key])!r} in the spec"
        for saved, current in zip(record.param_groups, live, strict=True)
        for key in current
        if key not in _NOT_SETTINGS and _plain(saved[key]) != _plain(current[key])
    ]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def join_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    prefix: str,
) -> None:
    """Load the split state into ``optimizer`` (check it with :func:`check_optimizer_state`)."""
    state: dict[int, dict[str, Any]] = {}
    for index, entries in meta["plain_state"].items():
        state.setdefault(int(index), {}).update(entries)
    for key, value in tensors.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, name = key[len(prefix) + 1 :].partition(".")
        state.setdefault(int(index), {})[name] = value
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    match_parameter_layouts(optimizer)


def match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor its parameter's memory layout.

    A checkpoint stores tensors contiguous; torch's fused Adam walks a parameter and its
    moments as one flat buffer each, so moments loaded contiguous for a channels_last
    parameter would be updated against the wrong elements, silently.
    """
    for param, entries in optimizer.state.items():
        for name, value in entries.items():
            moment = isinstance(value, torch.Tensor) and value.shape == param.shape
            if moment and value.stride() != param.stride():
                entries[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def keep_settings(optimizer: torch.optim.Optimizer, live: list[dict[str, Any]]) -> None:
    """Put the settings of ``live`` (the spec's groups, from before loading) back."""
    for group, settings in zip(optimizer.param_groups, live, strict=True):
        for key, value in settings.items():
            if key not in _NOT_SETTINGS:
                group[key] = value
