"""Checkpoints: tensors in a safetensors file, everything else in a JSON sidecar; never pickles.

A checkpoint ``RUN_DIR/checkpoints/step-000001000`` is two files: ``.safetensors`` (weights,
optimiser moments, RNG states) and ``.json`` (step, epoch, optimiser hyper-parameters, python
and numpy RNG states, data-stream position, ...). Each is written under a temporary name, flushed
to disk and renamed; the sidecar goes last and records the weights file's size and sha256, so a
checkpoint is complete exactly when its sidecar exists and matches. A kill at any instant leaves
every earlier complete checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from zsk.core.files import make_folder, write_file
from zsk.core.model import GAN
from zsk.registry import UserError

FORMAT = "zsk-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
WEIGHTS_SUFFIX = ".safetensors"
SIDECAR_SUFFIX = ".json"


def model_fingerprint(model: nn.Module, data_fingerprint: str) -> str:
    """What a checkpoint's weights must match: every tensor's name, shape and dtype, and the
    data set.

    Built from the networks rather than the spec's text, so a newer zsk that adds a parameter
    with a behaviour-preserving default still loads the checkpoints of older runs, while any
    change to the architecture or the data is refused.
    """
    layout = "\n".join(
        f"{name}:{tuple(tensor.shape)}:{tensor.dtype}"
        for name, tensor in sorted(model.state_dict().items())
    )
    return hashlib.sha256(f"{layout}\n{data_fingerprint}".encode()).hexdigest()[:16]


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
    write_file(weights, payload)
    sidecar = dict(meta, format=FORMAT, step=step)
    sidecar["weights"] = {
        "file": weights.name,
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    write_file(stem.with_suffix(SIDECAR_SUFFIX), json.dumps(sidecar, indent=1).encode())
    for old in list_checkpoints(run_dir)[:-keep]:
        old.with_suffix(SIDECAR_SUFFIX).unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return weights


def _sidecar_of(path: Path) -> Path:
    path = Path(path)
    return path.with_suffix(SIDECAR_SUFFIX) if path.suffix == WEIGHTS_SUFFIX else path


def _is_sidecar(path: Path) -> bool:
    """A finished sidecar (only complete checkpoints have one; it is renamed into place last).

    The weights it names are verified when the checkpoint is read: a damaged file is an error
    to report, not a reason to fall back silently to an older checkpoint.
    """
    try:
        return bool(json.loads(path.read_text())["weights"]["file"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints (their weights paths), oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    sidecars = sorted(folder.glob(f"step-*{SIDECAR_SUFFIX}"))
    return [s.with_suffix(WEIGHTS_SUFFIX) for s in sidecars if _is_sidecar(s)]


def find_latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (its ``.safetensors`` path), or None."""
    complete = list_checkpoints(run_dir)
    return complete[-1] if complete else None


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's tensors (on the CPU) and sidecar, verified against the recorded digest."""
    sidecar = _sidecar_of(path)
    fix = "delete it to fall back to the previous checkpoint, or train without --resume"
    try:
        meta = json.loads(sidecar.read_text())
        weights = sidecar.with_name(meta["weights"]["file"])
        payload = weights.read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"checkpoint {sidecar} cannot be read: {exc}", hint=fix) from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{sidecar} is not a zsk checkpoint (format {meta.get('format')!r})")
    if len(payload) != meta["weights"]["size"]:
        raise UserError(
            f"checkpoint {weights} is corrupt: {len(payload)} bytes where {sidecar.name} "
            f"recorded {meta['weights']['size']} (truncated?)",
            hint=fix,
        )
    if hashlib.sha256(payload).hexdigest() != meta["weights"]["sha256"]:
        raise UserError(
            f"checkpoint {weights} is corrupt: its content does not match the sha256 in "
            f"{sidecar.name} (truncated or overwritten?)",
            hint=fix,
        )
    try:
        tensors = load_tensors(payload)
    except SafetensorError as exc:
        raise UserError(f"checkpoint {weights} is corrupt: {exc}", hint=fix) from None
    return tensors, meta


def check_matches(meta: dict[str, Any], fingerprint: str, where: Path) -> None:
    """Refuse a checkpoint made for another model or data set."""
    if meta.get("model_fingerprint") != fingerprint:
        raise UserError(
            f"checkpoint {where} was written for another model or data set "
            f"(fingerprint {meta.get('model_fingerprint')}, this run's is {fingerprint})",
            hint="resume with the spec and data it was trained with, or start a new run directory",
        )


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix.``, with the prefix removed."""
    start = len(prefix) + 1
    return {name[start:]: t for name, t in tensors.items() if name.startswith(prefix + ".")}


def load_module_state(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``module.load_state_dict`` with a user-facing error naming what does not fit."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:3]
        raise UserError(
            f"{where} does not fit this run's networks: {' '.join(first)}",
            hint="resume with the spec it was written for, or start a new run directory",
        ) from None


def load_generator_and_discriminator(build: Any, path: Path, use_ema: bool = True) -> GAN:
    """Load trained weights into ``build.gan`` (in place) and return it in eval mode.

    ``path`` is a checkpoint's ``.safetensors``/``.json`` file or a run directory (its newest
    checkpoint). With ``use_ema`` the generator gets its moving-average weights when the run kept
    them. Raises :class:`UserError` when there is no checkpoint or it does not fit the build.
    """
    path = Path(path)
    if path.is_dir() or not path.exists():
        latest = find_latest(path)
        if latest is None:
            raise UserError(f"run {path} has no checkpoint yet", hint=f"train it: zsk train {path}")
        path = latest
    tensors, meta = read_checkpoint(path)
    check_matches(meta, model_fingerprint(build.gan, build.data.fingerprint()), path)
    gan = build.gan
    load_module_state(gan, prefixed(tensors, "gan"), str(path))
    ema = prefixed(tensors, "ema")
    if use_ema and ema:
        load_module_state(gan.generator, ema, f"{path} (EMA generator)")
    return gan.eval()
