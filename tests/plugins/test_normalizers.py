import pytest
import torch
from torch import nn

from zsk.core.components.interfaces import Dims
from zsk.plugins.builtin.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    NoNorm,
    Spectral,
)
from zsk.plugins.builtin.trunks import SNConvTrunk
from zsk.registry import UserError


def _largest_singular_value(weight: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2).item()


@pytest.mark.parametrize(
    "layer, out_dim",
    [
        (nn.Conv2d(6, 10, 3), 0),
        (nn.ConvTranspose2d(6, 10, 4), 1),  # kernel (in, out, k, k): output dimension 1
        (nn.Linear(12, 7), 0),
    ],
    ids=["conv", "conv_transpose", "linear"],
)
def test_spectral_norm_makes_largest_singular_value_one(layer, out_dim):
    torch.manual_seed(0)
    with torch.no_grad():
        layer.weight.mul_(5.0)
    raw = layer.weight.detach().clone()
    assert _largest_singular_value(raw.transpose(0, out_dim)) > 2

    wrapped = Spectral(Spectral.Params(n_power_iterations=50)).wrap(layer)
    wrapped.train()
    x = torch.randn(2, 6, 8, 8) if not isinstance(layer, nn.Linear) else torch.randn(2, 12)
    wrapped(x)  # one training-mode pass runs the power iterations
    normalised = wrapped.weight.detach().transpose(0, out_dim)
    assert _largest_singular_value(normalised) == pytest.approx(1.0, abs=1e-3)
    # the direction of the kernel is kept: it is the raw kernel divided by a scalar
    ratio = raw.transpose(0, out_dim) / normalised
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-4)


def test_none_normalizer_leaves_weights_and_features_alone():
    norm = NoNorm(NoNorm.Params())
    conv = nn.Conv2d(3, 4, 3)
    assert norm.wrap(conv) is conv
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(norm.feature(4)(x), x)


def _standardise(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-5)


def test_feature_normalizers_normalise_over_their_own_axes():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 5, 5) * 3 + 2
    batch = BatchNorm(BatchNorm.Params()).feature(8).train()
    torch.testing.assert_close(batch(x), _standardise(x, (0, 2, 3)), atol=1e-4, rtol=1e-4)
    instance = InstanceNorm(InstanceNorm.Params()).feature(8)
    torch.testing.assert_close(instance(x), _standardise(x, (2, 3)), atol=1e-4, rtol=1e-4)
    layer = LayerNorm(LayerNorm.Params()).feature(8)
    torch.testing.assert_close(layer(x), _standardise(x, (1, 2, 3)), atol=1e-4, rtol=1e-4)
    group = GroupNorm(GroupNorm.Params(num_groups=2)).feature(8)
    grouped = _standardise(x.reshape(4, 2, 4, 5, 5), (2, 3, 4)).reshape_as(x)
    torch.testing.assert_close(group(x), grouped, atol=1e-4, rtol=1e-4)


def test_instance_norm_affine_param_adds_scale_and_shift():
    plain = InstanceNorm(InstanceNorm.Params()).feature(8)
    affine = InstanceNorm(InstanceNorm.Params(affine=True)).feature(8)
    assert sum(p.numel() for p in plain.parameters()) == 0
    assert sum(p.numel() for p in affine.parameters()) == 16


def test_group_norm_refuses_channels_it_cannot_split():
    with pytest.raises(UserError, match="12 channels cannot be split into num_groups=8"):
        GroupNorm(GroupNorm.Params(num_groups=8)).feature(12)


def test_feature_normaliser_used_for_weights_is_a_user_error():
    dims = Dims(image_size=16, num_attributes=4, num_seen_classes=2)
    params = SNConvTrunk.Params(channels=[4, 8], weight_norm={"type": "batch"})
    with pytest.raises(UserError, match="normalizer 'batch' cannot normalise weights"):
        SNConvTrunk(params, dims=dims)
    params = SNConvTrunk.Params(channels=[4, 8], feature_norm={"type": "spectral"})
    with pytest.raises(UserError, match="normalizer 'spectral' cannot normalise features"):
        SNConvTrunk(params, dims=dims)
