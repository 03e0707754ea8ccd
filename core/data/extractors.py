"""What turns images into feature vectors for ``zsk data features``: a timm backbone with local
weights (the field's recipe: ImageNet ResNet-101, globally average-pooled). A trained zsk image
run's discriminator is the other extractor (:mod:`zsk.core.rundir.run_features`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.data import timm_models


@dataclass
class Extractor:
    """``features(uint8 (B, 3, S, S)) -> float (B, dim)`` at ``image_size`` S.

    ``identity`` says exactly what produces the features (written to ``features.json``; an
    interrupted extraction resumes only with the same identity).
    """

    image_size: int
    dim: int
    identity: dict
    features: Callable[[torch.Tensor], torch.Tensor]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def timm_extractor(
    name: str, weights: Path, image_size: int | None, device: torch.device
) -> Extractor:
    """timm's ``name`` with the local safetensors ``weights``: its globally pooled features on
    images resized to ``image_size`` (default: the architecture's own input size) and scaled
    with its own mean and standard deviation (ImageNet's for ImageNet models)."""
    import timm.data

    where = "--backbone"
    model = timm_models.create(name, where, num_classes=0)
    timm_models.load_local_weights(model, weights, name, where)
    config = timm.data.resolve_data_config({}, model=model)
    size = image_size or int(config["input_size"][-1])
    mean = torch.tensor(config["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(config["std"], device=device).view(1, 3, 1, 1)
    model = model.to(device).eval()

    @torch.no_grad()
    def features(images: torch.Tensor) -> torch.Tensor:
        scaled = (images.to(device, torch.float32) / 255.0 - mean) / std
        return model(scaled).flatten(1).float().cpu()

    identity = {
        "backbone": name,
        "weights": str(weights.resolve()),
        "weights_sha256": file_digest(weights),
        "image_size": size,
        "mean": [float(m) for m in config["mean"]],
        "std": [float(s) for s in config["std"]],
    }
    return Extractor(size, int(model.num_features), identity, features)
