"""A toy zero-shot world for the evaluation tests: tiny networks and images whose colour encodes
their class's attributes, so features carry the class signal without any training of the GAN."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from zsk.core.build.model import GAN, Discriminator
from zsk.core.components.interfaces import Dims, EmbeddingHead, Generator, SemanticEncoder, Trunk
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.components.zsl_data import Sample, ZslData

SIZE = 16
ATTRIBUTES = torch.tensor(
    [
        [1, 0, 0, 1, 0, 1],
        [0, 1, 0, 1, 1, 0],
        [0, 0, 1, 0, 1, 1],
        [1, 1, 0, 0, 0, 1],
        [1, 0, 1, 0, 1, 0],
        [0, 1, 1, 1, 0, 0],
    ],
    dtype=torch.float32,
)
SEEN = [0, 1, 2, 3]
UNSEEN = [4, 5]


def class_images(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """uint8 images whose three channels' brightness follows attributes 0..2 of the class."""
    base = ATTRIBUTES[labels, :3] * 150 + 50
    noise = torch.randint(-30, 31, (len(labels), 3, SIZE, SIZE), generator=generator)
    return (base[:, :, None, None] + noise).clamp(0, 255).to(torch.uint8)


class ToyGenerator(Generator):
    """Draws the colour of an attribute row: channels 0..2 follow attributes 0..2."""

    name = "toy"

    def __init__(self, dims: Dims):
        super().__init__(None, dims=dims)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, attributes, images=None, noise=None):
        level = attributes[:, :3] * (150 / 127.5) + (50 / 127.5 - 1) + self.bias
        jitter = 0.05 * torch.randn(len(attributes), 3, SIZE, SIZE, device=attributes.device)
        return (level[:, :, None, None] + jitter).clamp(-1, 1)

    def decode_features(self, features):
        """The toy trunk's features are mean colours: paint them back as an image."""
        colours = features.mean(dim=(2, 3))[:, :3] + self.bias
        return colours[:, :, None, None].expand(-1, -1, SIZE, SIZE).clamp(-1, 1)


class ToyTranslator(ToyGenerator):
    """Like ToyGenerator but needs a source image (and keeps its texture)."""

    name = "toy_translator"
    source_images = "required"

    def forward(self, attributes, images=None, noise=None):
        if images is None:
            raise ValueError("needs images")
        return (super().forward(attributes) + 0.0 * images).clamp(-1, 1)


class ToyTrunk(Trunk):
    """Mean colour per channel, broadcast to a 2×2 map."""

    name = "toy"

    def __init__(self, dims: Dims):
        super().__init__(None, dims=dims)
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, images):
        means = images.mean(dim=(2, 3)) * self.scale
        return means[:, :, None, None].expand(-1, -1, 2, 2)


class ToyEmbedding(EmbeddingHead):
    """Trunk colour to the embedding: the first three attributes, centred."""

    name = "toy"

    def __init__(self, dims: Dims):
        super().__init__(None, dims=dims, in_shape=(3, 2, 2))

    def forward(self, features):
        return features.mean(dim=(2, 3))


class ToySemantic(SemanticEncoder):
    """Attribute rows to the embedding space: attributes 0..2, centred like the images."""

    name = "toy"

    def __init__(self, dims: Dims):
        super().__init__(None, dims=dims)

    def forward(self, attributes):
        return attributes[:, :3] * (150 / 127.5) + (50 / 127.5 - 1)


def toy_gan(translating: bool = False) -> GAN:
    dims = Dims(image_size=SIZE, num_attributes=6, num_seen_classes=4, embedding_dim=3)
    generator = ToyTranslator(dims) if translating else ToyGenerator(dims)
    discriminator = Discriminator(ToyTrunk(dims), {"embedding": ToyEmbedding(dims)})
    return GAN(generator, discriminator, ToySemantic(dims), dims).eval()


def toy_data(root: Path = Path("toy")) -> ZslData:
    classes = [f"class{i}" for i in range(6)]
    return ZslData(
        root=root,
        classes=classes,
        predicates=["red", "green", "blue", "big", "furry", "fast"],
        attributes=ATTRIBUTES.clone(),
        seen=list(SEEN),
        unseen=list(UNSEEN),
        train=[Sample(root / f"{i}.png", SEEN[i % 4]) for i in range(40)],
        test_seen=[],
        test_unseen=[],
    )


@pytest.fixture
def toy_sets() -> tuple[LabelledImages, LabelledImages]:
    """(train: 10 images per seen class, test: 4 per seen and 6 per unseen class)."""
    generator = torch.Generator().manual_seed(0)
    train_labels = torch.tensor(SEEN).repeat(10)
    test_labels = torch.cat([torch.tensor(SEEN).repeat(4), torch.tensor(UNSEEN).repeat(6)])
    return (
        LabelledImages(class_images(train_labels, generator), train_labels),
        LabelledImages(class_images(test_labels, generator), test_labels),
    )


@pytest.fixture
def toy() -> SimpleNamespace:
    """The toy world's pieces: seen/unseen classes, data, GAN factory and image maker."""
    return SimpleNamespace(
        seen=SEEN, unseen=UNSEEN, data=toy_data, gan=toy_gan, class_images=class_images
    )
