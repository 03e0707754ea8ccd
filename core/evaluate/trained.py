"""A run's build with its newest trained weights: what eval, generate, translate and report use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zsk.core.build.composer import Build
from zsk.core.rundir.directory import load_run
from zsk.core.train.checkpoint import find_latest
from zsk.core.train.trained_weights import load_generator_and_discriminator
from zsk.registry import UserError


@dataclass
class TrainedRun:
    """The run's :class:`~zsk.core.build.composer.Build` (EMA generator when kept), checkpoint."""

    run_dir: Path
    build: Build
    checkpoint: Path

    @property
    def step(self) -> int:
        """The training step of the checkpoint (from its name, ``step-000001000``)."""
        return int(self.checkpoint.stem.rsplit("-", 1)[-1])


def load_trained(run_dir: Path, build: Build | None = None) -> TrainedRun:
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
