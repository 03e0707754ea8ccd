"""Gradient penalties on the critic: R1, R2 (Mescheder et al. 2018) and WGAN-GP's.

Each differentiates the real/fake head's score of some images — through the spec's real trunk
and head, conditional or not — with respect to those images, keeping the graph
(``create_graph=True``) so that the penalty's own gradient trains the critic. ``step.score``
runs the critic inside :func:`zsk.core.interfaces.second_order`, so components with fused
kernels (the SAGAN attention) take a path that can be differentiated twice.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from zsk.core.interfaces import Loss, StepContext

DISCRIMINATOR_ONLY = frozenset({"discriminator"})


def input_gradient_norms(step: StepContext, images: torch.Tensor, which: str) -> torch.Tensor:
    """``‖∇ₓ D(x | class)‖₂`` per image (B,), for the critic's score of ``images`` told the
    ``which`` classes; per-patch scores are averaged per image first."""
    images = images.detach().requires_grad_(True)
    scores = step.score(images, which).reshape(images.shape[0], -1).mean(dim=1)
    (gradient,) = torch.autograd.grad(scores.sum(), images, create_graph=True)
    return torch.linalg.vector_norm(gradient.flatten(1), dim=1)


def interpolation_penalty(step: StepContext) -> torch.Tensor:
    """WGAN-GP's ``mean((‖∇ D(mix)‖₂ − 1)²)`` over random real/fake interpolations, each mix
    told its real image's class."""
    real, fake = step.real().detach(), step.fake().detach()
    shape = (real.shape[0], *([1] * (real.dim() - 1)))
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype)
    norms = input_gradient_norms(step, alpha * real + (1.0 - alpha) * fake, "own")
    return ((norms - 1.0) ** 2).mean()


class _ZeroCentredPenalty(Loss):
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})
    source: ClassVar[str] = ""

    class Params(Loss.Params):
        gamma: float = Field(10.0, ge=0, description="weight γ of the penalty, γ/2·E‖∇D‖²")

    def forward(self, step: StepContext) -> torch.Tensor:
        if self.source == "real":
            images, which = step.real(), "own"
        else:
            images, which = step.fake(), "target"
        return 0.5 * self.params.gamma * (input_gradient_norms(step, images, which) ** 2).mean()


class R1(_ZeroCentredPenalty):
    """R1 penalty: ``γ/2 · mean ‖∇ₓ D(x)‖²`` on real images (Mescheder et al. 2018).

    Pushes the critic's gradient to zero on the data, which keeps GAN training near its
    equilibrium; a conditional head is told each image's own class. Discriminator phase only.
    """

    name = "r1"
    source = "real"


class R2(_ZeroCentredPenalty):
    """R2 penalty: ``γ/2 · mean ‖∇ D(x̂)‖²`` on generated images (Mescheder et al. 2018).

    The counterpart of R1 on the fakes; a conditional head is told the class each fake was
    made for. Discriminator phase only.
    """

    name = "r2"
    source = "fake"
