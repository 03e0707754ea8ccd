"""A run's checkpoints as the trainer uses them: resume from the newest one, save one.

What a checkpoint holds is :class:`~zsk.core.train.state.TrainState`'s, plus the run's
identity (spec name, the networks' fingerprint, total steps, world size); the file format is
:mod:`zsk.core.train.checkpoint`'s.
"""

from __future__ import annotations

from pathlib import Path

from zsk.core.build.composer import Build
from zsk.core.train.checkpoint import (
    check_matches,
    model_fingerprint,
    read_checkpoint,
    resume_point,
    write_checkpoint,
)
from zsk.core.train.distributed import Distributed, average_batch_norm_statistics
from zsk.core.train.state import TrainState


class Checkpointing:
    """Saves ``state`` into ``run_dir`` and loads it back from there."""

    def __init__(self, build: Build, run_dir: Path, state: TrainState, layout: Distributed):
        self.build, self.run_dir, self.state, self.layout = build, run_dir, state, layout

    def fingerprint(self) -> str:
        """What ties a checkpoint to these networks and this data set."""
        return model_fingerprint(self.build.gan, self.build.data.fingerprint())

    def resume(self, wanted: bool) -> bool:
        """Load the newest checkpoint when ``wanted`` (``--resume``); refuses to start over
        one without it. Returns whether a checkpoint was loaded."""
        path = resume_point(self.run_dir, wanted)
        if path is None:
            return False
        tensors, meta = read_checkpoint(path)
        check_matches(meta, self.fingerprint(), path)
        self.state.load_state_dict(tensors, meta, str(path))
        return True

    def save(self, total_steps: int) -> Path | None:
        """Write a checkpoint of this step (rank 0; every rank averages batch statistics)."""
        average_batch_norm_statistics(self.build.gan, self.layout)
        if not self.layout.is_main:
            return None
        tensors, record = self.state.state_dict()
        meta = {
            "spec_name": self.build.spec.name,
            "model_fingerprint": self.fingerprint(),
            "total_steps": total_steps,
            "world_size": self.layout.world_size,
            **record,
        }
        settings = self.build.spec.train
        return write_checkpoint(
            self.run_dir, self.state.step, tensors, meta, settings.keep_checkpoints
        )
