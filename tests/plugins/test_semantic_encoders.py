import pytest
import torch
from torch import nn

from zsk.core.components.interfaces import Dims
from zsk.plugins.builtin.semantic_encoders import IdentityEncoder, LinearEncoder, MlpEncoder
from zsk.registry import UserError

DIMS = Dims(image_size=32, num_attributes=7, num_seen_classes=3, embedding_dim=5)


def test_mlp_encoder_layers_and_output():
    encoder = MlpEncoder(MlpEncoder.Params(hidden=[9, 11]), dims=DIMS)
    linears = [m for m in encoder.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 9), (9, 11), (11, 5)]
    assert all(m.negative_slope == 0.2 for m in encoder.net if isinstance(m, nn.LeakyReLU))
    assert [m.p for m in encoder.net if isinstance(m, nn.Dropout)] == [0.25, 0.25]
    encoder.eval()
    x = torch.rand(4, 7)
    expected = x
    for layer in linears[:-1]:
        expected = nn.functional.leaky_relu(layer(expected), 0.2)
    expected = linears[-1](expected)
    torch.testing.assert_close(encoder(x), expected)


def test_linear_encoder_is_one_affine_map():
    encoder = LinearEncoder(LinearEncoder.Params(), dims=DIMS)
    x = torch.rand(4, 7)
    expected = x @ encoder.linear.weight.T + encoder.linear.bias
    torch.testing.assert_close(encoder(x), expected)
    assert LinearEncoder(LinearEncoder.Params(bias=False), dims=DIMS).linear.bias is None


def test_identity_encoder_passes_attributes_through():
    dims = Dims(image_size=32, num_attributes=5, num_seen_classes=3, embedding_dim=5)
    x = torch.rand(4, 5)
    assert torch.equal(IdentityEncoder(IdentityEncoder.Params(), dims=dims)(x), x)


def test_identity_encoder_needs_matching_sizes():
    with pytest.raises(UserError, match="passes the 7 attributes through unchanged") as info:
        IdentityEncoder(IdentityEncoder.Params(), dims=DIMS)
    assert "model.embedding_dim: 7" in info.value.hint
