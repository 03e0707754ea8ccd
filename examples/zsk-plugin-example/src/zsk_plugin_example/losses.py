"""The relativistic-average least-squares adversarial loss (Jolicoeur-Martineau 2018)."""

from __future__ import annotations

from typing import ClassVar

import torch
from zsk.api import Loss, StepContext


class RelativisticAverageLSGAN(Loss):
    """Relativistic-average LSGAN: scores are judged against the other side's mean score.

    With C(x) the real/fake head's score (per image, or per patch) and means taken over the
    batch (and patches):

    D: ``mean((C(x) − mean C(x̂) − 1)²) + mean((C(x̂) − mean C(x) + 1)²)``
    G: ``mean((C(x̂) − mean C(x) − 1)²) + mean((C(x) − mean C(x̂) + 1)²)``

    The targets ±1 are margins between the two sides, so the spec's label smoothing and
    flipping do not apply to this loss.
    """

    name = "ralsgan"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step: StepContext) -> torch.Tensor:
        real = step.head("real_fake", "real")
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            real, fake = fake, real
        return ((real - fake.mean() - 1.0) ** 2).mean() + ((fake - real.mean() + 1.0) ** 2).mean()
