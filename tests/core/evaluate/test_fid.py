"""FID and KID against closed forms, and Inception weights from a user's safetensors file."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import inception_v3

from zsk.core.evaluate.fid import (
    frechet_distance,
    image_distances,
    inception_features,
    kernel_inception_distance,
    load_inception,
)
from zsk.registry import UserError


def _features(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = _features(40, 6, 0)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_scaled_and_shifted_set():
    # b = 2a + 3: Σb = 4Σa, which commutes with Σa, so (Σa Σb)^½ = 2Σa and
    # FID = ‖3·1‖² + tr(Σa) + 4 tr(Σa) − 4 tr(Σa) = 9d + tr(Σa)
    a = _features(50, 5, 1)
    a = a - a.mean(dim=0)  # so that the means differ by exactly 3 per dimension
    b = 2 * a + 3
    expected = 9 * 5 + float(torch.trace(torch.cov(a.T)))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def _kid_by_loops(a: torch.Tensor, b: torch.Tensor) -> float:
    d = a.shape[1]

    def k(x, y):
        return (float(x @ y) / d + 1) ** 3

    m, n = len(a), len(b)
    aa = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    bb = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    ab = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return aa + bb - 2 * ab


def test_kernel_inception_distance_matches_the_unbiased_estimator():
    a, b = _features(7, 4, 2), _features(5, 4, 3) + 0.5
    assert kernel_inception_distance(a, b) == pytest.approx(_kid_by_loops(a, b), rel=1e-9)


def test_distances_need_two_samples_per_set():
    with pytest.raises(ValueError, match="two"):
        frechet_distance(_features(1, 3, 0), _features(4, 3, 1))


def test_without_weights_fid_is_null_with_a_reason():
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    result = image_distances(None, images, images, torch.device("cpu"), 2)
    assert result["fid"] is None and result["kid"] is None
    assert "--inception-weights" in result["fid_unavailable"]


def test_inception_weights_from_a_safetensors_file(tmp_path):
    path = tmp_path / "inception.safetensors"
    model = inception_v3(weights=None, aux_logits=False, init_weights=False)
    save_file(model.state_dict(), str(path))
    loaded = load_inception(path)
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    features = inception_features(loaded, images, torch.device("cpu"), batch_size=2)
    assert features.shape == (2, 2048)
    assert torch.isfinite(features).all()


def test_wrong_or_unreadable_weights_are_a_user_error(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="cannot read safetensors"):
        load_inception(junk)
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(UserError, match="not torchvision inception_v3 weights"):
        load_inception(other)
    with pytest.raises(UserError, match="no such file"):
        load_inception(tmp_path / "missing.safetensors")
