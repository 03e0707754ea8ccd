"""A trainer's whole state, the only thing checkpoints write and read: resuming = never stopping.

:class:`TrainState` gathers what changes while training: every network (``gan.*``), the
generator's EMA (``ema.*``), each loss term's state (``objective.{phase}.{index}.*``), both
optimisers (``optim.{phase}.*``) and gradient scalers, the torch/CUDA/Python/numpy RNG states,
the data stream's position and the step counters. :meth:`TrainState.state_dict` returns them as
(tensors, JSON); :meth:`TrainState.load_state_dict` validates the JSON as a pydantic model and
every tensor against the live networks and optimisers before changing anything it can refuse.
What is a function of the step (the learning-rate schedule, the instance-noise level) is not
state.

In a multi-process run, rank 0's RNG states are saved; on resume the other ranks reseed from
(seed, rank, step), so a resumed multi-process run is reproducible but draws other noise than an
uninterrupted one would. A single-process run resumes bit for bit.
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from zsk.core.train.optimizer_state import (
    OptimizerRecord,
    check_optimizer_state,
    join_optimizer_state,
    keep_settings,
    settings_changed,
    split_optimizer_state,
)
from zsk.registry import UserError

if TYPE_CHECKING:
    from zsk.core.build.model import GAN
    from zsk.core.data.loader import BatchStream
    from zsk.core.train.ema import ModelEMA
    from zsk.core.train.update import PhaseUpdater

#: the two optimised phases, in the order their optimisers are saved
PHASES = ("generator", "discriminator")
GAN_PREFIX, EMA_PREFIX = "gan", "ema"


class FirstBad(BaseModel):
    """Where the current run of non-finite steps began, for the message that stops training."""

    step: NonNegativeInt
    phase: Literal["discriminator", "generator"]
    terms: list[str]

    def describe(self) -> str:
        named = (
            f"term(s) {', '.join(repr(t) for t in self.terms)}" if self.terms else "its gradients"
        )
        return f"the {self.phase} loss went bad first at step {self.step} through {named}"


#: the Mersenne Twister's state: Python keeps 624 words and a position, numpy 624 words
_PYTHON_WORDS = Annotated[list[int], Field(min_length=625, max_length=625)]
_NUMPY_WORDS = Annotated[list[int], Field(min_length=624, max_length=624)]


class RngRecord(BaseModel):
    python: tuple[int, _PYTHON_WORDS, float | None]
    numpy: tuple[str, _NUMPY_WORDS, NonNegativeInt, int, float]


class StreamRecord(BaseModel):
    epoch: NonNegativeInt
    position: NonNegativeInt


class TrainStateRecord(BaseModel):
    """A checkpoint's JSON part as :class:`TrainState` writes it (older keys are ignored)."""

    model_config = ConfigDict(extra="ignore")

    step: NonNegativeInt
    stream: StreamRecord
    skipped_steps: NonNegativeInt
    nonfinite_in_a_row: NonNegativeInt
    first_bad: FirstBad | None = None
    optimizers: dict[Literal["generator", "discriminator"], OptimizerRecord]
    scalers: dict[str, dict[str, float | int | bool] | None]
    rng: RngRecord


class TrainState:
    """The mutable state of one training run, with the counters the loop advances."""

    def __init__(
        self,
        gan: GAN,
        ema: ModelEMA | None,
        objective_losses: list[tuple[str, torch.nn.Module]],
        updaters: dict[str, PhaseUpdater],
        stream: BatchStream,
        *,
        seed: int,
        rank: int = 0,
    ):
        self.gan, self.ema, self.losses = gan, ema, objective_losses
        self.updaters, self.stream = updaters, stream
        self.seed, self.rank = seed, rank
        self.step = 0
        self.skipped = 0
        self.bad_in_a_row = 0
        self.first_bad: FirstBad | None = None

    def count_nonfinite(self, bad: list[tuple[str, list[str]]]) -> None:
        """Update the counters after a step; ``bad`` lists the (phase, terms) that were not
        finite (empty: the step was applied)."""
        if not bad:
            self.bad_in_a_row, self.first_bad = 0, None
            return
        self.skipped += 1
        self.bad_in_a_row += 1
        if self.bad_in_a_row == 1:
            phase, terms = bad[0]
            self.first_bad = FirstBad(step=self.step, phase=phase, terms=terms)

    def describe_nonfinite(self) -> str:
        """Where the current run of non-finite steps began."""
        if self.first_bad is None:  # resumed from a checkpoint written before this was kept
            return f"the loss went bad first before step {self.step - self.bad_in_a_row + 1}"
        return self.first_bad.describe()

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"{GAN_PREFIX}.{k}": v for k, v in self.gan.state_dict().items()}
        if self.ema is not None:
            tensors.update({f"{EMA_PREFIX}.{k}": v for k, v in self.ema.state_dict().items()})
        for prefix, loss in self.losses:
            tensors.update({f"{prefix}.{k}": v for k, v in loss.state_dict().items()})
        record: dict[str, Any] = {
            "step": self.step,
            "epoch": self.stream.epoch,
            "stream": self.stream.state_dict(),
            "skipped_steps": self.skipped,
            "nonfinite_in_a_row": self.bad_in_a_row,
            "first_bad": self.first_bad.model_dump() if self.first_bad else None,
            "optimizers": {},
            "scalers": {},
        }
        for phase in PHASES:
            updater = self.updaters[phase]
            own, record["optimizers"][phase] = split_optimizer_state(
                updater.optimizer, f"optim.{phase}"
            )
            tensors.update(own)
            record["scalers"][phase] = scaler_state(updater.scaler)
        rng_tensors, record["rng"] = capture_rng()
        tensors.update(rng_tensors)
        return tensors, record

    def load_state_dict(
        self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], where: str
    ) -> None:
        """Restore from a checkpoint; a checkpoint that does not fit is a :class:`UserError`
        naming ``where`` and the field."""
        try:
            record = TrainStateRecord.model_validate(meta)
        except ValidationError as exc:
            raise UserError(
                f"checkpoint {where} has invalid training state: {_first_problem(exc)}",
                hint="resume from an earlier checkpoint (delete this one), or start a new run "
                "directory",
            ) from None
        for phase in PHASES:
            check_optimizer_state(
                self.updaters[phase].optimizer,
                tensors,
                record.optimizers[phase],
                f"optim.{phase}",
                where,
            )
        if "rng.torch" not in tensors or tensors["rng.torch"].dtype != torch.uint8:
            raise UserError(
                f"checkpoint {where} lacks its random number generator state",
                hint="resume from an earlier checkpoint (delete this one), or start a new run "
                "directory",
            )
        if record.stream.position > len(self.stream):
            raise UserError(
                f"checkpoint {where} places the data stream at batch {record.stream.position} "
                f"of an epoch of {len(self.stream)}",
                hint="resume with the data it was trained with, or start a new run directory",
            )
        load_module_state(self.gan, prefixed(tensors, GAN_PREFIX), where)
        for prefix, loss in self.losses:
            own = prefixed(tensors, prefix)
            if own:
                load_module_state(loss, own, f"{where} ({prefix})")
        if self.ema is not None:
            ema = prefixed(tensors, EMA_PREFIX)
            self.ema.load_state_dict(ema or self.gan.generator.state_dict())
        self._load_optimizers(tensors, record, where)
        self.stream.load_state_dict(record.stream.model_dump())
        self.step = record.step
        self.skipped = record.skipped_steps
        self.bad_in_a_row = record.nonfinite_in_a_row
        self.first_bad = record.first_bad
        if self.rank == 0:
            restore_rng(tensors, record.rng.model_dump(), where)
        else:
            seed_everything(self.seed + 7919 * self.rank + 104729 * self.step)

    def _load_optimizers(
        self, tensors: dict[str, torch.Tensor], record: TrainStateRecord, where: str
    ) -> None:
        """Each phase's optimiser state (checked before), with the spec's settings kept and a
        checkpoint that saved other settings announced."""
        for phase in PHASES:
            updater = self.updaters[phase]
            changed = settings_changed(updater.optimizer, record.optimizers[phase])
            if changed and self.rank == 0:
                print(
                    f"note: checkpoint {where}: the {phase} optimiser's settings differ from the "
                    f"spec's ({'; '.join(changed)}); resuming with the spec's",
                    file=sys.stderr,
                    flush=True,
                )
            live = updater.optimizer.state_dict()["param_groups"]
            join_optimizer_state(
                updater.optimizer,
                tensors,
                record.optimizers[phase].model_dump(),
                f"optim.{phase}",
            )
            keep_settings(updater.optimizer, live)
            saved = record.scalers.get(phase)
            if updater.scaler is not None and saved:
                updater.scaler.load_state_dict(saved)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    place = ".".join(str(p) for p in error["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{place}: {error['msg']}{more}"


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


def load_trained_weights(
    gan: GAN, tensors: dict[str, torch.Tensor], where: str, use_ema: bool
) -> None:
    """A checkpoint's networks into ``gan``; with ``use_ema`` the generator gets its moving
    average when the run kept one."""
    load_module_state(gan, prefixed(tensors, GAN_PREFIX), where)
    ema = prefixed(tensors, EMA_PREFIX)
    if use_ema and ema:
        load_module_state(gan.generator, ema, f"{where} (EMA generator)")


# optimisers --------------------------------------------------------------------------------
def scaler_state(scaler: torch.amp.GradScaler | None) -> dict[str, Any] | None:
    if scaler is None:
        return None
    return {
        k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in scaler.state_dict().items()
    }


# random number generators ------------------------------------------------------------------
def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch's CPU and CUDA states as uint8 tensors; Python's and numpy's as JSON lists."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = cuda_state
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)],
    }
    return tensors, plain


def restore_rng(tensors: dict[str, torch.Tensor], plain: dict[str, Any], where: str) -> None:
    """Set every generator to the checkpoint's state; a state they refuse names ``where``."""
    try:
        torch.set_rng_state(tensors["rng.torch"])
        version, internal, gauss = plain["python"]
        random.setstate((version, tuple(internal), gauss))
        kind, keys, position, has_gauss, cached = plain["numpy"]
        keys = np.asarray(keys, dtype=np.uint32)
        np.random.set_state((kind, keys, position, has_gauss, cached))
    except (RuntimeError, ValueError, TypeError, OverflowError, IndexError) as exc:
        raise UserError(
            f"checkpoint {where}: its random number generator state is damaged: {exc}",
            hint="resume from an earlier checkpoint (delete this one), or start a new run "
            "directory",
        ) from None
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k[9:]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python's ``random`` and numpy's global generator."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
