"""A discriminator as a feature extractor: what one stage hands a later stage (and ``zsk data
features --run``): its trunk's features averaged over positions, or its embedding head's φ(x)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from zsk.core.build.model import GAN
from zsk.core.data.loader import to_unit_range
from zsk.registry import UserError


def discriminator_features(
    gan: GAN, layer: str, device: torch.device
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``features(uint8 (B, 3, S, S)) -> float32 (B, D)`` on the CPU: the trunk's output
    averaged over positions (``layer='trunk'``) or the embedding head's φ(x)
    (``layer='embedding'``), images scaled to [-1, 1] as in training. ``gan`` should be in eval
    mode with its trained weights."""
    trunk = gan.discriminator.trunk
    embedding = None
    if layer == "embedding":
        if "embedding" not in gan.discriminator.heads:
            raise UserError(
                "this run's discriminator has no 'embedding' head, so it gives no φ(x)",
                where="model.heads",
                hint="use the trunk's features (layer trunk), or add model.heads.embedding",
            )
        embedding = gan.discriminator.heads["embedding"]

    @torch.no_grad()
    def features(images: torch.Tensor) -> torch.Tensor:
        out = trunk(to_unit_range(images.to(device)))
        pooled = out.mean(dim=(2, 3)) if embedding is None else embedding(out).flatten(1)
        return pooled.float().cpu()

    return features


def feature_dim(gan: GAN, layer: str, image_size: int) -> int:
    """How many numbers :func:`discriminator_features` gives per image (a probe of one image)."""
    device = next(gan.parameters()).device
    training = gan.training
    gan.eval()
    probe = discriminator_features(gan, layer, device)(
        torch.zeros(1, 3, image_size, image_size, dtype=torch.uint8)
    )
    gan.train(training)
    return int(probe.shape[1])
