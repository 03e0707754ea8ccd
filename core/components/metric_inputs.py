"""What a metric plugin reads: a trained run's networks, data and images (:class:`MetricInputs`).

Plain records in the kinds' layer, so that the ``Metric`` base class names the type its
``compute`` takes without importing evaluation; ``gan`` is typed as a module for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zsk.core.components.zsl_data import ZslData


@dataclass(frozen=True)
class LabelledImages:
    """uint8 images (N, 3, S, S), or a feature run's float32 rows (N, D), on the CPU, and their
    global class indices (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> LabelledImages:
        return LabelledImages(self.images[index], self.labels[index])

    def __add__(self, other: LabelledImages) -> LabelledImages:
        return LabelledImages(
            torch.cat([self.images, other.images]), torch.cat([self.labels, other.labels])
        )


@dataclass(frozen=True)
class MetricInputs:
    """A trained run as a metric sees it.

    Images are uint8 (N, 3, S, S) on the CPU with global class indices: the real ``train``,
    ``test_seen`` and ``test_unseen`` images, and the images the generator ``imagined`` for the
    unseen classes (``zsk eval --images-per-class`` per class). ``gan`` is the run's
    :class:`~zsk.core.build.model.GAN` (generator, discriminator, semantic encoder) in evaluation
    mode on ``device``, or None where no networks are at hand (the metric contract's inputs); run
    batches of at most ``batch_size`` and seed any randomness from ``seed``.
    """

    data: ZslData
    train: LabelledImages
    test_seen: LabelledImages
    test_unseen: LabelledImages
    imagined: LabelledImages
    gan: nn.Module | None
    device: torch.device
    batch_size: int
    seed: int
