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


def random_translate(
    images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image of (B, C, H, W) shifted by its own whole number of pixels, up to
    ``max_shift`` in each direction, the edge rows and columns repeated into what it uncovers
    (padding by replication, then a random crop back to H×W).

    Offsets are drawn like :func:`random_hflip`'s coin flips: on ``generator``'s device, CPU
    when none is given.
    """
    if max_shift <= 0:
        return images
    batch, channels, height, width = images.shape
    draw_on = generator.device if generator is not None else torch.device("cpu")
    shifts = torch.randint(
        -max_shift, max_shift + 1, (2, batch), generator=generator, device=draw_on
    ).to(images.device)
    rows = (torch.arange(height, device=images.device) + shifts[0, :, None]).clamp(0, height - 1)
    cols = (torch.arange(width, device=images.device) + shifts[1, :, None]).clamp(0, width - 1)
    # one gather over each flattened image (a quarter of the CPU of indexing rows and columns)
    flat = (rows[:, :, None] * width + cols[:, None, :]).view(batch, 1, height * width)
    picked = images.reshape(batch, channels, height * width).gather(
        2, flat.expand(batch, channels, height * width)
    )
    return picked.view(images.shape)
