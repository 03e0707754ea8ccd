"""The notebook's networks (PAPER.md), expressed with the built-in components at 128×128.

Built on the meta device: shapes and parameter counts without allocating or computing anything.
The notebook's totals: G ≈ 19.6M parameters with its attribute encoder, D ≈ 17.0M (trunk, real/fake
conv, embedding conv and the 50-class classifier), ψ ≈ 85K.
"""

import pytest
import torch

from zsk.core.components.interfaces import Dims
from zsk.plugins.builtin.attention import SelfAttention
from zsk.plugins.builtin.generators import NoiseDecoder
from zsk.plugins.builtin.heads import ConvEmbeddingHead, RealFakeHead
from zsk.plugins.builtin.semantic_encoders import MlpEncoder
from zsk.plugins.builtin.trunks import SNConvTrunk

# AwA2: 85 attributes, 50 classes (the notebook's classifier spans all 50), 256-d noise/embedding
DIMS = Dims(
    image_size=128, num_attributes=85, num_seen_classes=50, embedding_dim=256, noise_dim=256
)


def _count(*modules: torch.nn.Module) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


@pytest.fixture(scope="module")
def notebook():
    with torch.device("meta"):
        generator = NoiseDecoder(
            NoiseDecoder.Params(base_channels=64, max_channels=1024, attention_at=[-2, -1]),
            dims=DIMS,
            feature_shape=None,
        )
        trunk = SNConvTrunk(SNConvTrunk.Params(channels=[32, 64, 128, 256, 512, 1024]), dims=DIMS)
        real_fake = RealFakeHead(RealFakeHead.Params(), dims=DIMS, in_shape=(1024, 2, 2))
        embedding = ConvEmbeddingHead(ConvEmbeddingHead.Params(), dims=DIMS, in_shape=(1024, 2, 2))
        semantic = MlpEncoder(MlpEncoder.Params(), dims=DIMS)
    return generator, trunk, real_fake, embedding, semantic


def test_notebook_shapes_at_128(notebook):
    generator, trunk, real_fake, embedding, semantic = notebook
    with torch.device("meta"):
        images = generator(torch.empty(2, 85))
        features = trunk(images)
        phi = embedding(features)
        assert images.shape == (2, 3, 128, 128)
        assert features.shape == (2, 1024, 2, 2)
        assert real_fake(features).shape == (2,)
        assert phi.shape == (2, 256)
        assert embedding.class_logits(phi).shape == (2, 50)
        assert semantic(torch.empty(2, 85)).shape == (2, 256)
    deconvs = [m for m in generator.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in deconvs] == [
        (512, 1024),
        (1024, 512),
        (512, 256),
        (256, 128),
        (128, 64),
        (64, 3),
    ]
    attention = [m.channels for m in generator.modules() if isinstance(m, SelfAttention)]
    assert attention == [128, 64]
    assert [m.channels for m in trunk.modules() if isinstance(m, SelfAttention)] == [512, 1024]


def test_notebook_parameter_counts(notebook):
    generator, trunk, real_fake, embedding, semantic = notebook
    assert _count(generator) == pytest.approx(19.6e6, rel=0.03)
    assert _count(trunk, real_fake, embedding) == pytest.approx(17.0e6, rel=0.03)
    # ψ exactly: 85·128+128 + 128·192+192 + 192·256+256
    assert _count(semantic) == 85 * 128 + 128 + 128 * 192 + 192 + 192 * 256 + 256
    assert _count(semantic) == pytest.approx(85e3, rel=0.03)
