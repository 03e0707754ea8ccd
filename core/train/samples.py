"""Sample grids during training: fixed inputs, seen and unseen classes, so progress is visible.

Columns are classes: up to four seen classes, then up to four unseen ones, which the generator
never saw images of. For a generator that imagines without a source, each row is one fixed
noise vector. For one that needs a source image, each row is one fixed training image (first
column) translated towards each class's attributes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from zsk.core.components.interfaces import Generator
from zsk.core.components.zsl_data import ZslData
from zsk.core.storage.files import write_file, writing

SAMPLES_DIR = "samples"
CLASSES_PER_GROUP = 4
ROWS = 4


def grid_classes(data: ZslData) -> list[int]:
    """Global class indices shown: the first seen classes, then the first unseen ones."""
    return data.seen[:CLASSES_PER_GROUP] + data.unseen[:CLASSES_PER_GROUP]


class SampleGrid:
    """Fixed noise, attributes and source images, rendered by :meth:`write` at any step."""

    def __init__(
        self,
        data: ZslData,
        generator: Generator,
        train_images: torch.Tensor,
        noise_dim: int,
        seed: int,
    ):
        self.classes = grid_classes(data)
        self.attributes = data.attributes[self.classes].float()
        cpu = torch.Generator().manual_seed(seed)
        self.noise = torch.randn(ROWS, noise_dim, generator=cpu) if noise_dim > 0 else None
        self.sources = None
        if generator.source_images == "required":
            picks = torch.randperm(train_images.shape[0], generator=cpu)[:ROWS]
            self.sources = train_images[picks].float() / 127.5 - 1.0

    @torch.no_grad()
    def render(self, generator: Generator, device: torch.device) -> torch.Tensor:
        """(rows × columns, C, S, S) images in [-1, 1], row-major."""
        columns = len(self.classes)
        rows = self.sources.shape[0] if self.sources is not None else ROWS
        attributes = self.attributes.to(device).repeat(rows, 1)
        noise = None
        if self.noise is not None:
            noise = self.noise[:rows].to(device).repeat_interleave(columns, dim=0)
        sources = None
        if self.sources is not None:
            sources = self.sources.to(device).repeat_interleave(columns, dim=0)
        was_training = generator.training
        generator.eval()
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                fakes = generator(attributes, images=sources, noise=noise).float()
        finally:
            generator.train(was_training)
        if self.sources is None:
            return fakes
        grid = fakes.view(rows, columns, *fakes.shape[1:])
        firsts = self.sources.to(device).unsqueeze(1)
        return torch.cat([firsts, grid], dim=1).flatten(0, 1)

    def write(self, generator: Generator, device: torch.device, run_dir: Path, step: int) -> Path:
        """Save ``samples/step-NNNNNNNNN.png`` and copy it to ``samples/latest.png``."""
        images = self.render(generator, device)
        columns = len(self.classes) + (1 if self.sources is not None else 0)
        folder = Path(run_dir) / SAMPLES_DIR
        path = folder / f"step-{step:09d}.png"
        with writing(path) as temporary:
            save_image(images.cpu(), temporary, nrow=columns, normalize=True, value_range=(-1, 1))
        write_file(folder / "latest.png", path.read_bytes())
        return path
