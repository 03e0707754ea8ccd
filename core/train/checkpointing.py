"""A trainer's whole state to and from a checkpoint, so that resuming equals never stopping.

Saved: every network (``gan.*``), the generator's EMA (``ema.*``), both optimisers, both
gradient scalers, the torch/CUDA/Python/numpy RNG states, the step, the data stream's position,
the instance-noise level and the non-finite counters. The learning-rate schedule is a function
of the step and needs no state.

In a multi-process run, rank 0's RNG states are saved; on resume the other ranks reseed from
(seed, rank, step), so a resumed multi-process run is reproducible but draws other noise than an
uninterrupted one would. A single-process run resumes bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zsk.core.train.checkpoint import (
    check_matches,
    find_latest,
    load_module_state,
    model_fingerprint,
    prefixed,
    read_checkpoint,
    write_checkpoint,
)
from zsk.core.train.distributed import Distributed, any_replica
from zsk.core.train.signals import StopRequest
from zsk.core.train.state import (
    capture_rng,
    join_optimizer_state,
    restore_rng,
    scaler_state,
    seed_everything,
    split_optimizer_state,
)
from zsk.registry import UserError

if TYPE_CHECKING:
    from zsk.core.train.loop import Trainer

OPTIMISERS = {"generator": ("opt_g", "update_g"), "discriminator": ("opt_d", "update_d")}


def latest(run_dir: Path) -> Path | None:
    return find_latest(run_dir)


def fingerprint_of(trainer: Trainer) -> str:
    return model_fingerprint(trainer.build.gan, trainer.build.data.fingerprint())


def _losses(trainer: Trainer) -> list[tuple[str, Any]]:
    objective = trainer.build.objective
    return [
        (f"objective.{phase}.{index}", term.loss)
        for phase in ("discriminator", "generator")
        for index, term in enumerate(getattr(objective, phase))
    ]


def save(trainer: Trainer) -> Path:
    tensors = {f"gan.{k}": v for k, v in trainer.gan.state_dict().items()}
    if trainer.ema is not None:
        tensors.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
    for prefix, loss in _losses(trainer):
        tensors.update({f"{prefix}.{k}": v for k, v in loss.state_dict().items()})
    meta: dict[str, Any] = {
        "spec_name": trainer.build.spec.name,
        "model_fingerprint": fingerprint_of(trainer),
        "epoch": trainer.stream.epoch,
        "stream": trainer.stream.state_dict(),
        "instance_noise_std": trainer.noise_std,
        "skipped_steps": trainer.skipped,
        "nonfinite_in_a_row": trainer.bad_in_a_row,
        "total_steps": trainer.total_steps,
        "world_size": trainer.layout.world_size,
        "optimizers": {},
        "scalers": {},
    }
    for name, (opt_attr, updater_attr) in OPTIMISERS.items():
        opt_tensors, opt_meta = split_optimizer_state(getattr(trainer, opt_attr), f"optim.{name}")
        tensors.update(opt_tensors)
        meta["optimizers"][name] = opt_meta
        meta["scalers"][name] = scaler_state(getattr(trainer, updater_attr).scaler)
    rng_tensors, meta["rng"] = capture_rng()
    tensors.update(rng_tensors)
    return write_checkpoint(
        trainer.run_dir, trainer.step, tensors, meta, trainer.spec.keep_checkpoints
    )


def prepare(trainer: Trainer) -> None:
    """Resume from the newest checkpoint with ``--resume``; refuse to overwrite one without."""
    newest = find_latest(trainer.run_dir)
    if not trainer.resume:
        if newest is not None:
            raise UserError(
                f"{trainer.run_dir} already has checkpoints (newest: {newest.name}); "
                "training again would overwrite them",
                hint=f"continue it with `zsk train {trainer.run_dir} --resume`, or build a new "
                "run directory (zsk build SPEC --out DIR)",
            )
        return
    if newest is None:
        return
    restore(trainer, newest)


def restore(trainer: Trainer, path: Path) -> None:
    tensors, meta = read_checkpoint(path)
    check_matches(meta, fingerprint_of(trainer), path)
    try:
        load_module_state(trainer.gan, prefixed(tensors, "gan"), str(path))
        for prefix, loss in _losses(trainer):
            own = prefixed(tensors, prefix)
            if own:
                load_module_state(loss, own, f"{path} ({prefix})")
        if trainer.ema is not None:
            ema = prefixed(tensors, "ema")
            trainer.ema.load_state_dict(ema or trainer.gan.generator.state_dict())
        for name, (opt_attr, updater_attr) in OPTIMISERS.items():
            optimizer = getattr(trainer, opt_attr)
            opt_tensors = {k: v for k, v in tensors.items() if k.startswith(f"optim.{name}.")}
            join_optimizer_state(optimizer, opt_tensors, meta["optimizers"][name], f"optim.{name}")
            scaler = getattr(trainer, updater_attr).scaler
            if scaler is not None and meta["scalers"].get(name):
                scaler.load_state_dict(meta["scalers"][name])
        trainer.stream.load_state_dict(meta["stream"])
        trainer.step = int(meta["step"])
        trainer.noise_std = float(meta["instance_noise_std"])
        trainer.skipped = int(meta["skipped_steps"])
        trainer.bad_in_a_row = int(meta["nonfinite_in_a_row"])
        if trainer.layout.rank == 0:
            restore_rng(tensors, meta["rng"])
        else:
            seed_everything(trainer.spec.seed + 7919 * trainer.layout.rank + 104729 * trainer.step)
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(
            f"checkpoint {path} is incomplete or from another version: missing or bad {exc}",
            hint="resume from an earlier checkpoint, or start a new run directory",
        ) from None
    trainer._batches = iter(trainer.stream)


def stop_agreed(stop: StopRequest, layout: Distributed) -> bool:
    """Whether any replica received a stop signal (all replicas stop at the same step)."""
    return any_replica(stop.requested, layout)
