"""A trained zsk image run's discriminator as a feature extractor for ``zsk data features
--run`` (the report's networks feeding a feature GAN)."""

from __future__ import annotations

from pathlib import Path

import torch

from zsk.core.data.extractors import Extractor, file_digest
from zsk.core.data.loader import to_unit_range
from zsk.core.evaluate.inference import head
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import load_run
from zsk.registry import UserError


def run_extractor(run_dir: Path, layer: str, device: torch.device) -> Extractor:
    """A trained zsk image run's discriminator: its trunk's features averaged over positions
    (``layer='trunk'``), or the embedding head's φ(x) (``layer='embedding'``), at the run's
    image size and [-1, 1] scaling."""
    build = load_run(run_dir)
    if build.data.is_features:
        raise UserError(
            f"{run_dir} trains on features, not images, so it has no image discriminator",
            hint="give a run of an image spec (e.g. one built from examples/shapes.yaml)",
        )
    trained = load_trained(run_dir, build)
    gan = build.gan.to(device).eval()
    trunk = gan.discriminator.trunk
    embedding = head(gan, "embedding") if layer == "embedding" else None

    @torch.no_grad()
    def features(images: torch.Tensor) -> torch.Tensor:
        out = trunk(to_unit_range(images.to(device)))
        pooled = out.mean(dim=(2, 3)) if embedding is None else embedding(out).flatten(1)
        return pooled.float().cpu()

    size = build.dims.image_size
    probe = features(torch.zeros(1, 3, size, size, dtype=torch.uint8))
    identity = {
        "run": str(Path(run_dir).resolve()),
        "checkpoint": trained.checkpoint.name,
        "checkpoint_sha256": file_digest(trained.checkpoint),
        "layer": layer,
        "image_size": size,
    }
    return Extractor(size, int(probe.shape[1]), identity, features)
