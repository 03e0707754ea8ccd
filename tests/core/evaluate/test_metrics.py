"""Metrics as plugins: FID and KID from torch-fidelity's TF-Inception port against closed forms,
weights from a local file only, and the metric contract."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import inception_v3

from zsk.core.components.interfaces import Metric
from zsk.core.evaluate.fid import WEIGHTS_FILE, default_weights, inception_features, load_extractor
from zsk.core.evaluate.metric_plugins import check_values, parse_metric
from zsk.plugins.builtin.metrics import InceptionDistances
from zsk.registry import UserError
from zsk.testing import check_component
from zsk.testing.errors import ContractError
from zsk.testing.metric_contract import check_metric, tiny_inputs


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random weights in the layout of torch-fidelity's TF-Inception file (tests download
    nothing): torchvision's inception_v3 with 1008 classes has the same tensors."""
    torch.manual_seed(0)
    model = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    path = tmp_path_factory.mktemp("inception") / "inception.safetensors"
    save_file(model.state_dict(), str(path))
    return path


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def _fid_by_formula(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2(Σa^½ Σb Σa^½)^½), Fréchet's closed form for Gaussians."""
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root = _sqrt_psd(cov_a)
    cross = torch.trace(_sqrt_psd(root @ cov_b @ root))
    mean = ((a.mean(0) - b.mean(0)) ** 2).sum()
    return float(mean + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross)


def _kid_by_loops(a: torch.Tensor, b: torch.Tensor) -> float:
    """The unbiased MMD² with k(x, y) = (x·y/d + 1)³, pair by pair."""
    d = a.shape[1]

    def k(x, y):
        return (float(x @ y) / d + 1) ** 3

    m, n = len(a), len(b)
    aa = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    bb = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    ab = sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return aa + bb - 2 * ab


def _features(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_fid_and_kid_are_the_closed_forms(weights):
    metric = InceptionDistances(InceptionDistances.Params(weights=str(weights), kid_subsets=3))
    real, imagined = _features(9, 5, 1), 1.5 * _features(9, 5, 2) + 0.3
    values = metric.distances(real, imagined, seed=0)
    assert values["fid"] == pytest.approx(_fid_by_formula(real, imagined), rel=1e-6)
    # subsets of all nine features are permutations, and the unbiased MMD² ignores order
    assert values["kid"] == pytest.approx(_kid_by_loops(real, imagined), rel=1e-9)
    assert values["kid_std"] == pytest.approx(0.0, abs=1e-12)
    assert metric.distances(real, real, seed=0)["fid"] == pytest.approx(0.0, abs=1e-9)


def test_the_metric_measures_imagined_against_real_unseen_images_through_tf_inception(weights):
    inputs = tiny_inputs()
    metric = InceptionDistances(InceptionDistances.Params(weights=str(weights), kid_subsets=1))
    values = metric.compute(inputs)
    cpu = torch.device("cpu")
    real, imagined = (
        inception_features(metric.extractor, images, cpu, 4)
        for images in (inputs.test_unseen.images, inputs.imagined.images)
    )
    assert real.shape == imagined.shape == (4, 2048) and torch.isfinite(real).all()
    assert values == {
        **metric.distances(real, imagined, seed=inputs.seed),
        "real_images": 4,
        "imagined_images": 4,
    }


def test_the_fid_metric_meets_the_metric_contract(weights):
    check_component(InceptionDistances, params={"weights": str(weights), "kid_subsets": 2})


def test_missing_weights_say_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    assert default_weights() == expected
    with pytest.raises(UserError) as caught:
        InceptionDistances(InceptionDistances.Params())
    text = caught.value.render()
    assert str(expected) in text and "never downloads" in text
    assert f"releases/download/v0.2.0/{WEIGHTS_FILE}" in text


class _Pickled:
    """Anything that is not a tensor: torch.load(weights_only=True) refuses to build it."""


def test_weights_are_read_as_tensors_only(tmp_path, weights):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="cannot read Inception weights"):
        load_extractor(junk)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"conv.weight": torch.zeros(1), "payload": _Pickled()}, unsafe)
    with pytest.raises(UserError, match="cannot read Inception weights"):
        load_extractor(unsafe)
    other = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(UserError, match="not the TF-Inception weights"):
        load_extractor(other)


def test_a_pth_of_tensors_loads_like_the_safetensors_file(tmp_path, weights):
    from safetensors.torch import load_file

    pth = tmp_path / WEIGHTS_FILE
    torch.save(load_file(str(weights)), pth)
    images = tiny_inputs().imagined.images[:1]
    cpu = torch.device("cpu")
    torch.testing.assert_close(
        inception_features(load_extractor(pth), images, cpu, 1),
        inception_features(load_extractor(weights), images, cpu, 1),
    )


class _Counts(Metric):
    """Counts the images a metric sees (a test double)."""

    name = "counts_test"

    def compute(self, inputs):
        return {"imagined": len(inputs.imagined), "ratio": len(inputs.imagined) / 3}


class _NotJson(_Counts):
    """Returns a tensor where a number belongs."""

    name = "not_json_test"

    def compute(self, inputs):
        return {"value": torch.tensor(1.0)}


class _Drifting(_Counts):
    """Gives a different value each time."""

    name = "drifting_test"

    def compute(self, inputs):
        return {"value": float(torch.rand(()))}


def test_the_metric_contract_catches_what_eval_json_cannot_hold():
    check_metric(_Counts)
    with pytest.raises(ContractError, match="'value' is a Tensor"):
        check_metric(_NotJson)
    with pytest.raises(ContractError, match="the second time"):
        check_metric(_Drifting)
    with pytest.raises(TypeError, match="is nan; return None instead"):
        check_values("x", {"value": float("nan")})


def test_metric_option_reads_a_name_or_a_yaml_reference():
    assert parse_metric("fid").type == "fid"
    assert parse_metric("{type: fid, params: {kid_subsets: 3}}").params.kid_subsets == 3
    with pytest.raises(UserError, match="Did you mean 'fid'"):
        parse_metric("fdi")
    with pytest.raises(UserError, match="kid_subsets"):
        parse_metric("{type: fid, params: {kid_subsets: 0}}")
