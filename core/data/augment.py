"""Augmentation of whole batches as tensors, on the device the batch lives on."""

from __future__ import annotations

import torch


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of (B, C, H, W) mirrored left-right with probability 1/2 (the report's flip).

    The coin flips are drawn on ``generator``'s device (CPU when none is given, so that a seeded
    run is reproducible on any device) and applied on the images' device.
    """
    draw_on = generator.device if generator is not None else torch.device("cpu")
    flip = torch.rand(images.shape[0], generator=generator, device=draw_on) < 0.5
    flip = flip.to(images.device).view(-1, *([1] * (images.dim() - 1)))
    return torch.where(flip, images.flip(-1), images)
