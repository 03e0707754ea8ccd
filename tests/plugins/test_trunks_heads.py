import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from zsk.core.components.interfaces import Dims
from zsk.plugins.builtin.attention import SelfAttention
from zsk.plugins.builtin.blocks import spatial_mean
from zsk.plugins.builtin.heads import (
    AttributeHead,
    ConvEmbeddingHead,
    RealFakeHead,
    ReconstructionFeatureHead,
)
from zsk.plugins.builtin.normalizers import (
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    NoNorm,
    cancels_channel_bias,
)
from zsk.plugins.builtin.trunks import SNConvTrunk, TimmTrunk
from zsk.registry import UserError

DIMS = Dims(image_size=32, num_attributes=5, num_seen_classes=3, embedding_dim=6)


@pytest.mark.parametrize("size, channels", [(32, [4, 8, 16]), (64, [4, 8, 8, 16])])
def test_sn_conv_trunk_halves_the_size_per_block(size, channels):
    dims = Dims(image_size=size, num_attributes=5, num_seen_classes=3)
    trunk = SNConvTrunk(SNConvTrunk.Params(channels=channels), dims=dims)
    out = trunk(torch.rand(2, 3, size, size))
    side = size // 2 ** len(channels)
    assert out.shape == (2, channels[-1], side, side)
    assert trunk.describe() == f"with {len(channels)} stride-2 blocks"


def test_sn_conv_trunk_follows_the_notebook_block_layout():
    trunk = SNConvTrunk(SNConvTrunk.Params(channels=[4, 8, 16, 16]), dims=DIMS)
    blocks = list(trunk.blocks)
    # instance norm from the second block, dropout from the third, attention on the last two
    assert [isinstance(getattr(b, "norm", None), nn.InstanceNorm2d) for b in blocks] == [
        False,
        True,
        True,
        True,
    ]
    assert [hasattr(b, "drop") for b in blocks] == [False, False, True, True]
    assert [isinstance(getattr(b, "attn", None), SelfAttention) for b in blocks] == [
        False,
        False,
        True,
        True,
    ]
    for block in blocks:
        conv = block.conv
        assert "weight" in conv.parametrizations
        assert (conv.kernel_size, conv.stride, conv.padding) == ((4, 4), (2, 2), (1, 1))
        assert block.act.negative_slope == 0.2


def test_sn_conv_trunk_refuses_images_too_small_for_its_blocks():
    dims = Dims(image_size=16, num_attributes=5, num_seen_classes=3)
    with pytest.raises(UserError, match="5 stride-2 blocks need an image_size that is a multiple"):
        SNConvTrunk(SNConvTrunk.Params(channels=[4] * 5), dims=dims)


def test_timm_trunk_gives_feature_maps():
    trunk = TimmTrunk(TimmTrunk.Params(architecture="test_resnet"), dims=DIMS)
    out = trunk(torch.rand(2, 3, 32, 32))
    assert out.dim() == 4 and out.shape[:2] == (2, trunk.model.num_features)
    assert trunk.describe() == f"(timm 'test_resnet', output stride {32 // out.shape[-1]})"


def test_timm_trunk_permutes_channels_last_features():
    trunk = TimmTrunk(TimmTrunk.Params(architecture="test_mambaout"), dims=DIMS)
    out = trunk(torch.rand(2, 3, 32, 32))
    assert out.shape[1] == trunk.model.num_features
    raw = trunk.model.forward_features(torch.rand(1, 3, 32, 32))
    assert raw.shape[-1] == trunk.model.num_features  # the model itself is channels last


def test_timm_trunk_refuses_token_outputs():
    with pytest.raises(
        UserError, match=r"gives features of shape \(1, 5, 64\), not \(B, C, H, W\)"
    ):
        TimmTrunk(TimmTrunk.Params(architecture="test_vit"), dims=DIMS)


def test_timm_trunk_unknown_architecture_suggests_names():
    with pytest.raises(UserError, match="timm has no architecture 'resnet1'. Did you mean"):
        TimmTrunk(TimmTrunk.Params(architecture="resnet1"), dims=DIMS)


def test_timm_trunk_missing_weights_says_where_to_put_them(tmp_path):
    path = tmp_path / "resnet.safetensors"
    params = TimmTrunk.Params(architecture="test_resnet", weights=str(path))
    with pytest.raises(UserError, match="weights file .*resnet.safetensors not found") as info:
        TimmTrunk(params, dims=DIMS)
    assert "timm/test_resnet" in info.value.hint and "never downloads" in info.value.hint


def test_timm_trunk_loads_local_weights(tmp_path):
    torch.manual_seed(0)
    source = TimmTrunk(TimmTrunk.Params(architecture="test_resnet"), dims=DIMS).eval()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.model.state_dict().items()}, str(path))
    torch.manual_seed(1)
    params = TimmTrunk.Params(architecture="test_resnet", weights=str(path))
    loaded = TimmTrunk(params, dims=DIMS).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), source(images))


def test_timm_trunk_refuses_weights_of_another_architecture(tmp_path):
    other = TimmTrunk(TimmTrunk.Params(architecture="test_efficientnet"), dims=DIMS)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in other.model.state_dict().items()}, str(path))
    with pytest.raises(UserError, match="does not fit 'test_resnet'|lacks .* tensors"):
        TimmTrunk(TimmTrunk.Params(architecture="test_resnet", weights=str(path)), dims=DIMS)


FEATURES = torch.randn(2, 8, 4, 4)


def test_real_fake_head_scores_images_or_patches():
    torch.manual_seed(0)
    head = RealFakeHead(RealFakeHead.Params(patch=True), dims=DIMS, in_shape=(8, 4, 4))
    patches = head(FEATURES)
    assert patches.shape == (2, 1, 3, 3)  # 4 + 2·1 − 4 + 1 positions per side
    head.params = RealFakeHead.Params(patch=False)
    scores = head(FEATURES)
    assert scores.shape == (2,)
    torch.testing.assert_close(scores, patches.mean(dim=(1, 2, 3)))


def test_attribute_head_predicts_every_attribute():
    head = AttributeHead(AttributeHead.Params(output="sigmoid"), dims=DIMS, in_shape=(8, 4, 4))
    out = head(FEATURES)
    assert out.shape == (2, DIMS.num_attributes)
    assert ((out > 0) & (out < 1)).all()


def test_embedding_head_and_its_classifier():
    head = ConvEmbeddingHead(ConvEmbeddingHead.Params(), dims=DIMS, in_shape=(8, 4, 4))
    assert head.role == "embedding"
    embedding = head(FEATURES)
    assert embedding.shape == (2, DIMS.embedding_dim)
    logits = head.class_logits(embedding)
    expected = embedding @ head.classifier.weight.T + head.classifier.bias
    torch.testing.assert_close(logits, expected)
    assert logits.shape == (2, DIMS.num_seen_classes)
    bare = ConvEmbeddingHead(
        ConvEmbeddingHead.Params(classifier=False), dims=DIMS, in_shape=(8, 4, 4)
    )
    assert bare.class_logits(embedding) is None


def test_reconstruction_feature_head_keeps_the_spatial_size():
    params = ReconstructionFeatureHead.Params(channels=12)
    head = ReconstructionFeatureHead(params, dims=DIMS, in_shape=(8, 4, 4))
    assert head(FEATURES).shape == (2, 12, 4, 4)


@pytest.mark.parametrize(
    "cls", [RealFakeHead, AttributeHead, ConvEmbeddingHead, ReconstructionFeatureHead]
)
def test_heads_say_what_features_they_need(cls):
    params = cls.Params(kernel_size=4, padding=0)
    assert (
        cls.input_problem(params, (8, 2, 2)) == "needs at least 4×4 features (kernel 4, padding 0)"
    )
    assert cls.input_problem(params, (8, 4, 4)) is None
    assert cls.input_problem(cls.Params(kernel_size=4, padding=1), (8, 2, 2)) is None


@pytest.mark.parametrize("cls", [RealFakeHead, AttributeHead, ConvEmbeddingHead])
def test_one_by_one_heads_pool_first_with_the_same_result(cls):
    """A 1×1 head applies its conv to the averaged features; the mean of the conv over every
    position is the same number (the conv is linear per position), gradients included."""
    torch.manual_seed(0)
    head = cls(cls.Params(kernel_size=1, padding=0), dims=DIMS, in_shape=(8, 4, 4))
    features = FEATURES.clone().requires_grad_()
    pooled = head(features)
    per_position = head.conv(features).mean(dim=(2, 3))
    torch.testing.assert_close(
        pooled, per_position.squeeze(1) if cls is RealFakeHead else per_position
    )
    (grad_pooled,) = torch.autograd.grad(pooled.square().sum(), features)
    (grad_direct,) = torch.autograd.grad(per_position.square().sum(), features)
    torch.testing.assert_close(grad_pooled, grad_direct)


def test_spatial_mean_is_the_mean_over_positions_gradient_included():
    maps = torch.randn(3, 5, 4, 2).contiguous(memory_format=torch.channels_last)
    maps.requires_grad_()
    pooled = spatial_mean(maps)
    expected = maps.detach().sum(dim=(2, 3)) / 8
    torch.testing.assert_close(pooled, expected)
    upstream = torch.randn(3, 5)
    (grad,) = torch.autograd.grad(pooled, maps, upstream)
    torch.testing.assert_close(grad, (upstream / 8)[:, :, None, None].expand(3, 5, 4, 2))


@pytest.mark.parametrize("slope", [0.2, 0.0])
def test_trunk_blocks_activate_in_place_with_the_out_of_place_numbers(slope):
    """Each block's activation overwrites the norm's output (a positive slope; torch's in-place
    LeakyReLU has no backward at slope 0, so that one stays out of place); the block's output
    and gradients are those of conv → batch norm → LeakyReLU written out."""
    torch.manual_seed(0)
    params = SNConvTrunk.Params(
        channels=[4, 8],
        weight_norm={"type": "none"},
        feature_norm={"type": "batch"},
        norm_from=0,
        negative_slope=slope,
        attention_at=[],
        dropout=0.0,
    )
    trunk = SNConvTrunk(params, dims=DIMS)
    assert [block.act.inplace for block in trunk.blocks] == [slope > 0] * 2
    images = torch.randn(4, 3, 32, 32)
    out = trunk(images)
    (grads,) = torch.autograd.grad(out.square().sum(), [trunk.blocks[0].conv.weight])
    expected = images
    for block in trunk.blocks:
        normed = nn.functional.batch_norm(
            block.conv(expected), None, None, block.norm.weight, block.norm.bias, training=True
        )
        expected = torch.where(normed > 0, normed, slope * normed)
    torch.testing.assert_close(out, expected)
    (expected_grads,) = torch.autograd.grad(expected.square().sum(), [trunk.blocks[0].conv.weight])
    torch.testing.assert_close(grads, expected_grads)


def test_convs_that_a_centring_norm_follows_can_go_without_their_bias():
    """Batch norm subtracts each channel's mean, so a conv bias before it changes nothing: the
    trunk without those biases gives the same features and weight gradients; a block without
    a norm (here the first, ``norm_from: 1``) keeps its bias."""
    torch.manual_seed(0)
    settings = dict(
        channels=[4, 8, 8], feature_norm={"type": "batch"}, norm_from=1, attention_at=[]
    )
    settings |= {"weight_norm": {"type": "none"}, "dropout": 0.0}
    with_bias = SNConvTrunk(SNConvTrunk.Params(**settings), dims=DIMS)
    without = SNConvTrunk(SNConvTrunk.Params(**settings, bias_before_norm=False), dims=DIMS)
    assert [block.conv.bias is not None for block in without.blocks] == [True, False, False]
    assert all(block.conv.bias is not None for block in with_bias.blocks)
    without.load_state_dict(with_bias.state_dict(), strict=False)
    for block in with_bias.blocks:
        nn.init.uniform_(block.conv.bias, -3, 3)  # any bias: the norm cancels it
    without.blocks[0].conv.bias.data.copy_(with_bias.blocks[0].conv.bias)
    # in double precision: a bias of up to 3 cancelled in float32 leaves rounding that
    # differs between CPUs' kernels by about the tolerance
    with_bias, without = with_bias.double(), without.double()
    images = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    out_with, out_without = with_bias(images), without(images)
    torch.testing.assert_close(out_without, out_with, rtol=1e-4, atol=1e-5)
    weights = [block.conv.weight for block in with_bias.blocks]
    expected = torch.autograd.grad(out_with.square().sum(), weights)
    found = torch.autograd.grad(
        out_without.square().sum(), [block.conv.weight for block in without.blocks]
    )
    for grad, reference in zip(found, expected, strict=True):
        torch.testing.assert_close(grad, reference, rtol=1e-4, atol=1e-4)


def test_instance_norm_cancels_a_bias_too_and_group_norm_does_not():
    assert cancels_channel_bias(BatchNorm(BatchNorm.Params()))
    assert cancels_channel_bias(InstanceNorm(InstanceNorm.Params()))
    assert not cancels_channel_bias(GroupNorm(GroupNorm.Params()))
    assert not cancels_channel_bias(NoNorm(NoNorm.Params()))
    params = SNConvTrunk.Params(channels=[4, 8], norm_from=0, attention_at=[])
    instance = SNConvTrunk(params.model_copy(update={"bias_before_norm": False}), dims=DIMS)
    assert all(block.conv.bias is None for block in instance.blocks)
