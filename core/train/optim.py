"""TTUR optimisers and the learning-rate schedule, from ``spec.train``.

The schedule is a pure function of the step (no scheduler object with its own state), so a
resumed run recomputes exactly the learning rates it would have had.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from zsk.core.build.model import GAN
from zsk.core.spec.sections import OptimizerSpec, ScheduleSpec


def make_optimizer(
    params: Iterable[nn.Parameter], spec: OptimizerSpec, device: torch.device
) -> torch.optim.Optimizer:
    """Adam, or AdamW when the spec asks for weight decay, with torch's fused kernels.

    Fused Adam exists for CUDA and the CPU; on the CPU it is much faster than the default
    per-tensor loop (BENCHMARKS.md §2), which matters for the small models zsk trains there.
    """
    params = [p for p in params if p.requires_grad]
    kwargs = {"lr": spec.lr, "betas": tuple(spec.betas)}
    if device.type in ("cuda", "cpu"):
        kwargs["fused"] = True
    if spec.weight_decay > 0:
        return torch.optim.AdamW(params, weight_decay=spec.weight_decay, **kwargs)
    return torch.optim.Adam(params, **kwargs)


def discriminator_parameters(gan: GAN) -> list[nn.Parameter]:
    """What D's optimiser steps: the discriminator and the semantic encoder ψ."""
    return [*gan.discriminator.parameters(), *gan.semantic_encoder.parameters()]


def lr_factor(schedule: ScheduleSpec, step: int, steps_per_epoch: float) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based): 1 during the constant phase,
    then linear down to 0 over the decay phase, 0 afterwards."""
    if schedule.type == "constant":
        return 1.0
    unit = steps_per_epoch if schedule.unit == "epochs" else 1.0
    constant, decay = schedule.constant * unit, schedule.decay * unit
    if step < constant:
        return 1.0
    if decay <= 0:
        return 0.0
    return max(0.0, 1.0 - (step - constant) / decay)


def set_learning_rate(optimizer: torch.optim.Optimizer, base_lr: float, factor: float) -> float:
    lr = base_lr * factor
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def gradient_norm(params: Iterable[nn.Parameter], clip: float | None) -> torch.Tensor:
    """The total L2 norm of the gradients (a device tensor, no host sync), clipping to ``clip``."""
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    if clip is not None:
        return torch.nn.utils.clip_grad_norm_(grads, clip)
    return torch.nn.utils.get_total_norm([p.grad for p in grads])
