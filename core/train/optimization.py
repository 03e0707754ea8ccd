"""The optimisation of a run: the two optimisers (D with ψ, and G), the learning-rate schedule,
and one phase's update from its loss terms.

A phase's loss is its objective's weighted terms plus the heads' own terms the objective
declares (:func:`~zsk.core.build.step.evaluate_terms`); the update is
:class:`~zsk.core.train.update.PhaseUpdater`'s backward, finite check, clip and step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from zsk.core.build.model import GAN, Objective
from zsk.core.build.step import Batch, FakeImages, PhaseContext, Regularizers, evaluate_terms
from zsk.core.components.interfaces import Phase
from zsk.core.spec.sections import TrainSpec
from zsk.core.train.device import Precision
from zsk.core.train.distributed import Distributed
from zsk.core.train.optim import (
    discriminator_parameters,
    lr_factor,
    make_optimizer,
    set_learning_rate,
)
from zsk.core.train.update import PhaseUpdater, UpdateOutcome

#: the short name of each phase in logged keys (``d/lsgan``, ``grad_norm/g``)
PREFIX = {"discriminator": "d", "generator": "g"}


class Optimization:
    """Adam (or AdamW) for G and for D with ψ, their scheduled learning rates, their updates."""

    def __init__(
        self,
        gan: GAN,
        settings: TrainSpec,
        device: torch.device,
        layout: Distributed,
        precision: Precision,
    ):
        self.settings, self.precision = settings, precision
        g_params = [p for p in gan.generator.parameters() if p.requires_grad]
        d_params = [p for p in discriminator_parameters(gan) if p.requires_grad]
        optimizers, clip = settings.optimizers, settings.grad_clip
        self.opt_g = make_optimizer(g_params, optimizers.generator, device)
        self.opt_d = make_optimizer(d_params, optimizers.discriminator, device)
        self.updaters = {
            "generator": PhaseUpdater(self.opt_g, g_params, layout, precision.scaler(), clip),
            "discriminator": PhaseUpdater(self.opt_d, d_params, layout, precision.scaler(), clip),
        }
        self.lr_g = self.lr_d = 0.0

    def schedule(self, step: int, steps_per_epoch: float) -> None:
        """Set both learning rates for ``step`` (a function of the step, never saved)."""
        factor = lr_factor(self.settings.schedule, step, steps_per_epoch)
        optimizers = self.settings.optimizers
        self.lr_g = set_learning_rate(self.opt_g, optimizers.generator.lr, factor)
        self.lr_d = set_learning_rate(self.opt_d, optimizers.discriminator.lr, factor)

    def update(
        self,
        phase: Phase,
        gan: GAN,
        objective: Objective,
        batch: Batch,
        fakes: FakeImages,
        regularizers: Regularizers,
        log: Callable[[str, torch.Tensor], None],
    ) -> UpdateOutcome:
        """One update of ``phase`` on ``batch``; an applied update's terms and gradient norm go
        to ``log`` (as device tensors, read when a record is written)."""
        ctx = PhaseContext(phase, gan, batch, fakes, regularizers)
        with self.precision.autocast():
            result = evaluate_terms(ctx, objective)
        outcome = self.updaters[phase].update(result)
        if outcome.applied:
            prefix = PREFIX[phase]
            for name, value in result.terms.items():
                log(f"{prefix}/{name}", value.detach())
            log(f"grad_norm/{prefix}", outcome.grad_norm.detach().float())
        return outcome
