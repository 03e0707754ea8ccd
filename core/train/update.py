"""One optimiser update of one phase: backward, gradient averaging, a finite check, clip, step.

The finite check is the phase's one host synchronisation: it waits for the backward pass (not
before it), so the device stays busy while the host queues the work. A non-finite loss (or,
without a gradient scaler, a non-finite gradient norm) skips the update; with an fp16 scaler,
overflowing gradients are the scaler's business (it skips and lowers its scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zsk.core.build.step import PhaseResult
from zsk.core.train.distributed import Distributed, any_replica, average_gradients
from zsk.core.train.optim import gradient_norm


@dataclass
class UpdateOutcome:
    applied: bool
    grad_norm: torch.Tensor
    bad_terms: list[str]


class PhaseUpdater:
    """Steps one optimiser over ``params`` on a phase's loss."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        params: list[nn.Parameter],
        layout: Distributed,
        scaler: torch.amp.GradScaler | None = None,
        clip: float | None = None,
    ):
        self.optimizer = optimizer
        self.params = params
        self.layout = layout
        self.scaler = scaler
        self.clip = clip

    def update(self, result: PhaseResult) -> UpdateOutcome:
        self.optimizer.zero_grad(set_to_none=True)
        loss = result.total
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        average_gradients(self.params, self.layout)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = gradient_norm(self.params, self.clip)
        checked = torch.isfinite(loss)
        if self.scaler is None:
            checked = checked & torch.isfinite(norm)
        finite = not any_replica(not bool(checked), self.layout)
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.update()
            bad = [name for name, value in result.terms.items() if not torch.isfinite(value)]
            return UpdateOutcome(False, norm, bad)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return UpdateOutcome(True, norm, [])
