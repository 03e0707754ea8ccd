"""The checkpoint format: tensors in a safetensors file, the rest in a JSON sidecar; no pickle.

A checkpoint ``RUN_DIR/checkpoints/step-000001000`` is two files: ``.json`` (the sidecar: format,
step, the model's fingerprint, the trainer's JSON state, and the weights file's size and sha256)
and ``.safetensors`` (weights, optimiser moments, RNG states). What goes into them is
:class:`zsk.core.train.state.TrainState`'s business; this module writes, finds, reads and
verifies the files.

Both are written through :mod:`zsk.core.storage.files` (temporary name, flush, rename). The sidecar
goes first and the weights last, so a checkpoint is complete exactly when both exist and match: a
kill at any instant leaves a sidecar without weights (ignored; the step is written again) and every
earlier complete checkpoint intact. Weights without a readable sidecar are never written by zsk:
they mean a lost or damaged sidecar, and resuming refuses rather than silently starting over.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from zsk.core.storage.files import make_folder, write_file
from zsk.registry import UserError

FORMAT = "zsk-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"
_STEP_NAME = re.compile(r"step-(\d{9})$")
_FIX = "delete it to fall back to the previous checkpoint, or train without --resume"


class WeightsRecord(BaseModel):
    file: str = Field(pattern=r"^step-\d{9}\.safetensors$")
    size: NonNegativeInt
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Sidecar(BaseModel):
    """The fields of a sidecar this module relies on; the trainer's state rides along."""

    model_config = ConfigDict(extra="allow")

    format: str
    step: NonNegativeInt
    weights: WeightsRecord
    model_fingerprint: str | None = None


def model_fingerprint(model: nn.Module, data_fingerprint: str) -> str:
    """What a checkpoint's weights must match: every tensor's name, shape and dtype, and the
    data set.

    Built from the networks rather than the spec's text, so a newer zsk that adds a parameter
    with a behaviour-preserving default still loads the checkpoints of older runs, while any
    change to the architecture or the data is refused.
    """
    tensors = "\n".join(
        f"{name}:{tuple(tensor.shape)}:{tensor.dtype}"
        for name, tensor in sorted(model.state_dict().items())
    )
    return hashlib.sha256(f"{tensors}\n{data_fingerprint}".encode()).hexdigest()[:16]


def checkpoint_stem(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:09d}"


def write_checkpoint(
    run_dir: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int
) -> Path:
    """Write a checkpoint atomically, drop all but the newest ``keep``; return the weights path."""
    stem = checkpoint_stem(run_dir, step)
    make_folder(stem.parent)
    cpu = {name: t.detach().to("cpu", copy=True).contiguous() for name, t in tensors.items()}
    payload = save_tensors(cpu, metadata={"format": FORMAT})
    weights = stem.with_suffix(WEIGHTS_SUFFIX)
    sidecar = dict(meta, format=FORMAT, step=step)
    sidecar["weights"] = {
        "file": weights.name,
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    write_file(stem.with_suffix(SIDECAR_SUFFIX), json.dumps(sidecar, indent=1))
    write_file(weights, payload)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(SIDECAR_SUFFIX).unlink(missing_ok=True)
    return weights


def _names_weights(sidecar: Path) -> bool:
    """Whether ``sidecar`` is readable JSON naming its own weights file."""
    try:
        return json.loads(sidecar.read_text())["weights"]["file"] == sidecar.stem + WEIGHTS_SUFFIX
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _step_files(run_dir: Path, suffix: str) -> list[Path]:
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"step-*{suffix}") if _STEP_NAME.match(p.stem))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints (their weights paths), oldest first.

    Complete means a readable sidecar and its weights file; whether the weights match the
    sidecar is checked when the checkpoint is read: a damaged file is an error to report, not a
    reason to fall back silently to an older checkpoint.
    """
    sidecars = _step_files(run_dir, SIDECAR_SUFFIX)
    return [
        s.with_suffix(WEIGHTS_SUFFIX)
        for s in sidecars
        if s.with_suffix(WEIGHTS_SUFFIX).is_file() and _names_weights(s)
    ]


def find_latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (its ``.safetensors`` path), or None."""
    complete = list_checkpoints(run_dir)
    return complete[-1] if complete else None


def step_of(path: Path) -> int:
    """The step in a checkpoint's file name."""
    return int(_STEP_NAME.match(Path(path).stem).group(1))


def resume_point(run_dir: Path, resume: bool) -> Path | None:
    """The checkpoint training continues from (None: step 0).

    Refuses to overwrite a trained run without ``resume``, and refuses to guess when weights
    newer than the newest complete checkpoint have lost their sidecar (resuming from an older
    one, or from step 0, would silently replace them).
    """
    newest = find_latest(run_dir)
    after = step_of(newest) if newest is not None else -1
    complete = set(list_checkpoints(run_dir))
    orphans = [
        w for w in _step_files(run_dir, WEIGHTS_SUFFIX) if w not in complete and step_of(w) > after
    ]
    if orphans:
        back = f"continue from {newest.name}" if newest else "start again from step 0"
        raise UserError(
            f"checkpoint weights {orphans[-1]} have no usable sidecar "
            f"({orphans[-1].with_suffix(SIDECAR_SUFFIX).name} is missing, unreadable or names "
            "another file); it holds the step, optimiser and random states needed to resume, "
            "and zsk never writes weights without one, so it was deleted or damaged",
            hint=f"restore that .json file; or, to {back}, move "
            f"{', '.join(o.name for o in orphans)} out of {orphans[-1].parent}",
        )
    if newest is not None and not resume:
        raise UserError(
            f"{run_dir} already has checkpoints (newest: {newest.name}); "
            "training again would overwrite them",
            hint=f"continue it with `zsk train {run_dir} --resume`, or build a new "
            "run directory (zsk build SPEC --out DIR)",
        )
    return newest if resume else None


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's tensors (on the CPU) and sidecar, verified against the recorded digest."""
    path = Path(path)
    sidecar = path.with_suffix(SIDECAR_SUFFIX) if path.suffix == WEIGHTS_SUFFIX else path
    try:
        raw = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"checkpoint {sidecar} cannot be read: {exc}", hint=_FIX) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise UserError(f"{sidecar} is not a zsk checkpoint (format {found!r})", hint=_FIX)
    try:
        meta = Sidecar.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(p) for p in error["loc"])
        raise UserError(
            f"checkpoint {sidecar} is invalid: {place}: {error['msg']}", hint=_FIX
        ) from None
    if _STEP_NAME.match(sidecar.stem) and meta.step != step_of(sidecar):
        raise UserError(
            f"checkpoint {sidecar} records step {meta.step} but is named for step "
            f"{step_of(sidecar)}",
            hint=_FIX,
        )
    weights = sidecar.with_name(meta.weights.file)
    try:
        payload = weights.read_bytes()
    except OSError as exc:
        raise UserError(f"checkpoint {weights} cannot be read: {exc}", hint=_FIX) from None
    if len(payload) != meta.weights.size:
        raise UserError(
            f"checkpoint {weights} is corrupt: {len(payload)} bytes where {sidecar.name} "
            f"recorded {meta.weights.size} (truncated?)",
            hint=_FIX,
        )
    if hashlib.sha256(payload).hexdigest() != meta.weights.sha256:
        raise UserError(
            f"checkpoint {weights} is corrupt: its content does not match the sha256 in "
            f"{sidecar.name} (truncated or overwritten?)",
            hint=_FIX,
        )
    try:
        tensors = load_tensors(payload)
    except SafetensorError as exc:
        raise UserError(f"checkpoint {weights} is corrupt: {exc}", hint=_FIX) from None
    return tensors, meta.model_dump()


def check_matches(meta: dict[str, Any], fingerprint: str, where: Path) -> None:
    """Refuse a checkpoint made for another model or data set."""
    if meta.get("model_fingerprint") != fingerprint:
        raise UserError(
            f"checkpoint {where} was written for another model or data set "
            f"(fingerprint {meta.get('model_fingerprint')}, this run's is {fingerprint})",
            hint="resume with the spec and data it was trained with, or start a new run directory",
        )
