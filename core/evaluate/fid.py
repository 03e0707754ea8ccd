"""Inception features for FID and KID: torch-fidelity's port of the TensorFlow Inception network.

Published FID and KID numbers are computed with the Inception graph of the TensorFlow FID code;
torch-fidelity (and torchmetrics, which uses it) ports that network, its resizing and its
weights (``weights-inception-2015-12-05-6726825d.pth``). zsk uses that port, so its numbers are
comparable with theirs. zsk downloads nothing: the weights come from a local file, read as
tensors only (safetensors, or the ``.pth`` through ``torch.load(weights_only=True)``, which never
runs code); they are handed to torch-fidelity as an in-memory copy of those tensors.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from zsk.registry import UserError

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
FEATURES = "2048"


def default_weights() -> Path:
    """Where torch-fidelity caches the weights, so a machine that has used it has them."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (``.safetensors`` or ``.pth``), tensors only."""
    if not path.is_file():
        raise UserError(
            "the TF-Inception weights for FID/KID are needed and zsk never downloads them",
            where=str(path),
            hint=f"download {WEIGHTS_URL} and put it at {path}, or name the file with "
            "--metric '{type: fid, params: {weights: PATH}}'",
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's to replace
        raise UserError(
            f"cannot read Inception weights: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            where=str(path),
            hint=f"use torch-fidelity's {WEIGHTS_FILE} (or a safetensors copy of it)",
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError("is not a state dict of tensors", where=str(path))
    return state


def load_extractor(path: Path) -> nn.Module:
    """torch-fidelity's FeatureExtractorInceptionV3 with the weights in ``path``."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = read_weights(path)
    tensors_only = io.BytesIO()
    torch.save(state, tensors_only)
    tensors_only.seek(0)
    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat", [FEATURES], feature_extractor_weights_path=tensors_only
        )
    except RuntimeError as exc:
        raise UserError(
            f"these are not the TF-Inception weights: {str(exc).splitlines()[0]}",
            where=str(path),
            hint=f"use torch-fidelity's {WEIGHTS_FILE}",
        ) from None


@torch.no_grad()
def inception_features(
    extractor: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """2048-d pool features (N, 2048) of uint8 images (N, 3, S, S), as torch-fidelity takes them."""
    extractor = extractor.to(device)
    outputs = [
        extractor(images[start : start + batch_size].to(device))[0].cpu()
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(outputs)
