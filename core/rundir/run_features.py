"""A trained zsk image run's discriminator as a feature extractor: for ``zsk data features
--run`` and for a staged run's feature stage (the report's networks feeding a feature GAN)."""

from __future__ import annotations

from pathlib import Path

import torch

from zsk.core.build.embed import discriminator_features
from zsk.core.data.extractors import Extractor, file_digest
from zsk.core.rundir.directory import load_run
from zsk.core.train.checkpoint import find_latest
from zsk.core.train.trained_weights import load_generator_and_discriminator
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
    checkpoint = find_latest(run_dir)
    if checkpoint is None:
        raise UserError(
            f"run {run_dir} has no checkpoint yet: its networks still hold their initial weights",
            hint=f"train it first: zsk train {run_dir}",
        )
    gan = load_generator_and_discriminator(build, checkpoint).to(device)
    features = discriminator_features(gan, layer, device)
    size = build.dims.image_size
    probe = features(torch.zeros(1, 3, size, size, dtype=torch.uint8))
    identity = {
        "run": str(Path(run_dir).resolve()),
        "checkpoint": checkpoint.name,
        "checkpoint_sha256": file_digest(checkpoint),
        "layer": layer,
        "image_size": size,
    }
    return Extractor(size, int(probe.shape[1]), identity, features)
