"""A run's build with its newest trained weights: what eval, generate, translate and report use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zsk.core.build.model import GAN
from zsk.core.rundir.directory import load_run
from zsk.core.train.checkpoint import check_matches, find_latest, model_fingerprint, read_checkpoint
from zsk.core.train.state import load_trained_weights
from zsk.registry import UserError


@dataclass
class TrainedRun:
    """The run's :class:`~zsk.core.build.composer.Build` (EMA generator when kept), checkpoint."""

    run_dir: Path
    build: Any
    checkpoint: Path

    @property
    def step(self) -> int:
        """The training step of the checkpoint (from its name, ``step-000001000``)."""
        return int(self.checkpoint.stem.rsplit("-", 1)[-1])


def load_trained(run_dir: Path, build: Any = None) -> TrainedRun:
    """Load the newest checkpoint into the run's networks (``build``, else the run's), eval mode.

    A run without a checkpoint is refused: its networks hold their initial random weights, and
    numbers or pictures from them would describe nothing.
    """
    latest = find_latest(run_dir)
    if latest is None:
        raise UserError(
            f"run {run_dir} has no checkpoint yet: its networks still hold their initial weights",
            hint=f"train it first: zsk train {run_dir}",
        )
    build = build if build is not None else load_run(run_dir)
    load_generator_and_discriminator(build, latest)
    return TrainedRun(Path(run_dir), build, latest)


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
    load_trained_weights(build.gan, tensors, str(path), use_ema)
    return build.gan.eval()
