"""FID and KID of imagined against real images, with Inception weights the user supplies.

zsk downloads nothing: ``--inception-weights PATH`` names a safetensors file holding the state
dict of torchvision's ``inception_v3`` (the one ``Inception_V3_Weights.IMAGENET1K_V1`` gives,
converted once with ``safetensors.torch.save_file(model.state_dict(), PATH)``). Features are the
2048-d pooled activations before the classifier, from images resized to 299×299 and normalised
as for ImageNet. Numbers from these weights are comparable among zsk runs; they are not the
TF-Inception FID of published papers.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from torchvision.models import inception_v3

from zsk.registry import UserError

INPUT_SIZE = 299
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def load_inception(path: Path) -> nn.Module:
    """torchvision's inception_v3 with the weights at ``path``, its classifier removed."""
    where = f"--inception-weights {path}"
    if not path.is_file():
        raise UserError("no such file", where=where, hint="give the path of a .safetensors file")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UserError(
            f"cannot read safetensors weights: {exc}",
            where=where,
            hint="convert torchvision's inception_v3 state_dict with safetensors.torch.save_file",
        ) from None
    has_aux = any(key.startswith("AuxLogits.") for key in state)
    model = inception_v3(weights=None, aux_logits=has_aux, init_weights=False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sample = ", ".join((missing + unexpected)[:4])
        raise UserError(
            f"these are not torchvision inception_v3 weights ({len(missing)} missing, "
            f"{len(unexpected)} unexpected keys, e.g. {sample})",
            where=where,
            hint="save the state_dict of torchvision.models.inception_v3",
        )
    model.fc = nn.Identity()
    return model.eval()


@torch.no_grad()
def inception_features(
    model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """2048-d features (N, 2048) of uint8 images (N, 3, S, S)."""
    model = model.to(device)
    mean = torch.tensor(_MEAN, device=device)[:, None, None]
    std = torch.tensor(_STD, device=device)[:, None, None]
    outputs = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device, torch.float32) / 255.0
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        outputs.append(model((x - mean) / std).double().cpu())
    return torch.cat(outputs)


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½), in float64.

    The trace of the matrix square root uses the symmetric form, whose eigenvalues are real
    and non-negative, instead of a general ``sqrtm`` of the product.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two feature vectors per set")
    a, b = a.to(torch.float64), b.to(torch.float64)
    mean_term = float(((a.mean(0) - b.mean(0)) ** 2).sum())
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    return mean_term + float(torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross)


def kernel_inception_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³ (Bińkowski 2018)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the kernel distance needs at least two feature vectors per set")
    a, b = a.to(torch.float64), b.to(torch.float64)
    d = a.shape[1]
    k_aa = (a @ a.T / d + 1) ** 3
    k_bb = (b @ b.T / d + 1) ** 3
    k_ab = (a @ b.T / d + 1) ** 3
    m, n = len(a), len(b)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def image_distances(
    weights: Path | None,
    real: torch.Tensor,
    imagined: torch.Tensor,
    device: torch.device,
    batch_size: int,
) -> dict[str, object]:
    """``{"fid", "kid"}`` of imagined against real unseen-class images, or nulls with a reason."""
    if weights is None:
        return {
            "fid": None,
            "kid": None,
            "fid_unavailable": "no Inception weights given (pass --inception-weights PATH)",
        }
    model = load_inception(weights)
    real_features = inception_features(model, real, device, batch_size)
    imagined_features = inception_features(model, imagined, device, batch_size)
    return {
        "fid": frechet_distance(real_features, imagined_features),
        "kid": kernel_inception_distance(real_features, imagined_features),
        "fid_images": {"real": len(real), "imagined": len(imagined)},
    }
