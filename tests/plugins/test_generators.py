import math

import pytest
import torch
from torch import nn

from zsk.core.components.interfaces import Dims
from zsk.plugins.builtin.attention import SelfAttention
from zsk.plugins.builtin.generators import EncoderDecoder, NoiseDecoder
from zsk.registry import UserError

SMALL = {"base_channels": 4, "max_channels": 16}


def _dims(size: int) -> Dims:
    return Dims(image_size=size, num_attributes=5, num_seen_classes=3, noise_dim=6)


def _conv_transposes(module: nn.Module) -> list[nn.ConvTranspose2d]:
    return [m for m in module.modules() if isinstance(m, nn.ConvTranspose2d)]


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("cls", [EncoderDecoder, NoiseDecoder])
def test_generators_make_images_of_the_configured_size(cls, size):
    torch.manual_seed(0)
    dims = _dims(size)
    generator = cls(cls.Params(**SMALL, attention_at=[]), dims=dims, feature_shape=(6, 2, 2))
    attributes = torch.rand(3, dims.num_attributes)
    images = torch.rand(3, 3, size, size) * 2 - 1
    out = generator(attributes, images=images if generator.source_images != "unused" else None)
    assert out.shape == (3, 3, size, size)
    assert out.abs().max() <= 1
    assert generator.decode_features(torch.randn(3, 6, 2, 2)).shape == (3, 3, size, size)
    # the bottleneck stays at 4×4: one more stride-2 step per doubling of the image size
    steps = math.log2(size // 4)
    expected_up = steps if cls is EncoderDecoder else steps + 1  # + the 1×1 → 4×4 projection
    assert len(_conv_transposes(generator.decoder)) == expected_up


def test_widths_double_from_the_image_side_up_to_the_cap():
    generator = NoiseDecoder(
        NoiseDecoder.Params(base_channels=4, max_channels=16, attention_at=[]), dims=_dims(64)
    )
    # from the bottleneck: 16 (4×4), 16 (8×8), 8 (16×16), 4 (32×32), then the image
    widths = [layer.out_channels for layer in _conv_transposes(generator.decoder)]
    assert widths == [16, 16, 8, 4, 3]


def test_encoder_decoder_translates_towards_the_target_attributes():
    torch.manual_seed(0)
    dims = _dims(32)
    generator = EncoderDecoder(EncoderDecoder.Params(**SMALL), dims=dims, feature_shape=None).eval()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    attributes = torch.rand(2, dims.num_attributes)
    with torch.no_grad():
        same = generator(attributes, images=images)
        assert torch.equal(same, generator(attributes, images=images))
        assert (generator(1 - attributes, images=images) - same).abs().max() > 1e-4
        assert (generator(attributes, images=images.flip(0)) - same).abs().max() > 1e-4
    with pytest.raises(ValueError, match="translates images"):
        generator(attributes)


def test_encoder_decoder_noise_channels_change_the_output():
    torch.manual_seed(0)
    dims = _dims(32)
    generator = EncoderDecoder(
        EncoderDecoder.Params(**SMALL, noise=True), dims=dims, feature_shape=None
    ).eval()
    fuse = generator.decoder.blocks[0].conv
    assert fuse.in_channels == 16 + dims.num_attributes + dims.noise_dim
    images, attributes = torch.rand(2, 3, 32, 32), torch.rand(2, dims.num_attributes)
    noise = torch.randn(2, dims.noise_dim)
    with torch.no_grad():
        a = generator(attributes, images=images, noise=noise)
        assert torch.equal(a, generator(attributes, images=images, noise=noise))
        assert (generator(attributes, images=images, noise=-noise) - a).abs().max() > 1e-4


def test_condition_every_block_feeds_the_attributes_to_each_up_block():
    torch.manual_seed(0)
    dims = _dims(32)
    params = EncoderDecoder.Params(**SMALL, condition_every_block=True, attention_at=[])
    generator = EncoderDecoder(params, dims=dims, feature_shape=(6, 2, 2)).eval()
    ups = _conv_transposes(generator.decoder)[:-1]  # the up blocks (the last makes the image)
    assert [up.in_channels for up in ups] == [16 + dims.num_attributes, 8 + dims.num_attributes]
    images, attributes = torch.rand(2, 3, 32, 32), torch.rand(2, dims.num_attributes)
    with torch.no_grad():
        # the attributes reach the up blocks themselves: with the bottleneck's attribute weights
        # zeroed, the output still follows them
        fuse = generator.decoder.blocks[0].conv
        weights = (
            fuse.parametrizations.weight.original
            if hasattr(fuse, "parametrizations")
            else fuse.weight
        )
        weights[:, 16:] = 0
        plain = generator(attributes, images=images)
        assert (generator(1 - attributes, images=images) - plain).abs().max() > 1e-4
        # the reconstruction path has no target attributes and still decodes
        assert generator.decode_features(torch.randn(2, 6, 2, 2)).shape == (2, 3, 32, 32)
    trained = EncoderDecoder(params, dims=dims, feature_shape=(6, 2, 2))
    trained(attributes, images=images).square().mean().backward()
    assert all(p.grad is not None for p in trained.decoder.parameters() if p.requires_grad)


def test_source_dropout_imagines_the_code_of_some_training_fakes_and_of_sourceless_ones():
    torch.manual_seed(0)
    dims = _dims(32)
    plain = EncoderDecoder(
        EncoderDecoder.Params(**SMALL, noise=True, attention_at=[]), dims=dims, feature_shape=None
    )
    assert plain.source_images == "required"
    with pytest.raises(ValueError, match="pass `images`"):
        plain(torch.rand(2, dims.num_attributes))
    params = EncoderDecoder.Params(**SMALL, noise=True, source_dropout=0.5, attention_at=[])
    generator = EncoderDecoder(params, dims=dims, feature_shape=None)
    assert generator.source_images == "optional"
    attributes, noise = torch.rand(400, dims.num_attributes), torch.randn(400, dims.noise_dim)
    images = torch.rand(400, 3, 32, 32) * 2 - 1
    generator.eval()  # deterministic layers, so only the choice of code differs between calls
    with torch.no_grad():
        translated = generator(attributes, images=images, noise=noise)
        imagined = generator(attributes, noise=noise)
        generator.training = True  # source dropout's switch; the layers stay in eval mode
        mixed = generator(attributes, images=images, noise=noise)
    as_imagined = (mixed - imagined).flatten(1).abs().amax(1) < 1e-5
    as_translated = (mixed - translated).flatten(1).abs().amax(1) < 1e-5
    assert bool((as_imagined ^ as_translated).all())  # each fake is one or the other
    assert 0.4 < as_imagined.float().mean().item() < 0.6  # about source_dropout of them
    generator.eval()
    with torch.no_grad():  # no dropout at evaluation: a given source is always used
        assert torch.equal(generator(attributes, images=images, noise=noise), translated)


def test_source_dropout_needs_noise():
    with pytest.raises(ValueError, match="source_dropout needs noise: true"):
        EncoderDecoder.Params(source_dropout=0.5)


def test_noise_decoder_draws_noise_and_applies_the_learned_scale_and_shift():
    torch.manual_seed(0)
    dims = _dims(32)
    generator = NoiseDecoder(NoiseDecoder.Params(**SMALL), dims=dims, feature_shape=None).eval()
    attributes = torch.rand(2, dims.num_attributes)
    with torch.no_grad():
        assert (generator(attributes) - generator(attributes)).abs().max() > 1e-4
        noise = torch.randn(2, dims.noise_dim)
        fixed = generator(attributes, noise=noise)
        assert torch.equal(fixed, generator(attributes, noise=noise))
        # scale 0 and a shift: the noise is replaced by the shift, whatever it was
        generator.noise_scale.zero_()
        generator.noise_shift.fill_(0.3)
        a = generator(attributes, noise=noise)
        b = generator(attributes, noise=torch.randn(2, dims.noise_dim))
        torch.testing.assert_close(a, b)


def test_noise_decoder_attribute_encoder_follows_the_notebook():
    dims = Dims(image_size=32, num_attributes=85, num_seen_classes=40, noise_dim=8)
    generator = NoiseDecoder(NoiseDecoder.Params(**SMALL), dims=dims, feature_shape=None)
    linears = [m for m in generator.attribute_encoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(85, 128), (128, 192), (192, 256)]
    kinds = [type(m).__name__ for m in generator.attribute_encoder]
    assert kinds.count("LeakyReLU") == 2 and kinds.count("Dropout") == 2


@pytest.mark.parametrize("cls", [EncoderDecoder, NoiseDecoder])
def test_attention_sits_after_the_chosen_decoder_blocks(cls):
    generator = cls(cls.Params(**SMALL, attention_at=[0, -1]), dims=_dims(32), feature_shape=None)
    blocks = generator.decoder.blocks  # three blocks at 4, 8 and 16 pixels
    has_attention = [isinstance(getattr(block, "attn", None), SelfAttention) for block in blocks]
    assert has_attention == [True, False, True]
    assert blocks[0].attn.channels == 16 and blocks[2].attn.channels == 4


def test_attention_index_out_of_range_is_a_user_error():
    with pytest.raises(UserError, match="block index 3 is out of range; there are 3 blocks"):
        NoiseDecoder(
            NoiseDecoder.Params(**SMALL, attention_at=[3]), dims=_dims(32), feature_shape=None
        )


@pytest.mark.parametrize("cls", [EncoderDecoder, NoiseDecoder])
def test_image_size_must_be_the_bottleneck_times_a_power_of_two(cls):
    with pytest.raises(UserError, match="image_size 48 is not bottleneck_size 4 times a power"):
        cls(cls.Params(**SMALL), dims=_dims(48), feature_shape=None)


@pytest.mark.parametrize("cls", [EncoderDecoder, NoiseDecoder])
def test_decoding_features_needs_a_reconstruction_feature_head(cls):
    generator = cls(cls.Params(**SMALL), dims=_dims(32), feature_shape=None)
    with pytest.raises(UserError, match="without a reconstruction-feature head"):
        generator.decode_features(torch.randn(2, 6, 2, 2))


def test_decode_features_accepts_vector_features():
    generator = EncoderDecoder(EncoderDecoder.Params(**SMALL), dims=_dims(32), feature_shape=(10,))
    assert generator.decode_features(torch.randn(2, 10)).shape == (2, 3, 32, 32)


def test_feature_norm_and_activation_params_shape_the_blocks():
    params = EncoderDecoder.Params(
        **SMALL, feature_norm={"type": "instance"}, activation="relu", weight_norm={"type": "none"}
    )
    generator = EncoderDecoder(params, dims=_dims(32), feature_shape=None)
    first, second = generator.encoder[0], generator.encoder[1]
    assert not hasattr(first, "norm")  # the first encoder block is not normalised
    assert isinstance(second.norm, nn.InstanceNorm2d)
    assert isinstance(second.act, nn.ReLU)
    assert not hasattr(second.conv, "parametrizations")
