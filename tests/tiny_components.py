"""The tests' one set of tiny components: networks, losses and an on-disk data set (16 px, a few
channels), for tests of the composer, the trainer, checkpoints and the CLI (their specs and built
runs: :mod:`tests.tiny_runs`).

Registered as the plugin ``tiny`` by :func:`register` (or :func:`registered`); subprocess tests
run this file as a script, which registers them and starts the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zsk.core.components.interfaces import (
    Dataset,
    EmbeddingHead,
    Generator,
    Head,
    Loss,
    SemanticEncoder,
    Trunk,
)
from zsk.core.components.zsl_data import Sample, ZslData
from zsk.registry import Component, hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin

PLUGIN = "tiny"
SIZE = 16
CLASSES = ["red", "green", "blue", "white", "black"]
SEEN, UNSEEN = [0, 1, 2], [3, 4]


class TinyTranslator(Generator):
    """Translates images towards target attributes (a two-layer conv net with batch norm)."""

    name = "tiny_translator"
    source_images = "required"

    def __init__(self, params, *, dims, feature_shape):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        self.body = nn.Sequential(
            nn.Conv2d(3 + dims.num_attributes, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(8, 3, 3, padding=1),
            nn.Tanh(),
        )
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, 3, 3, padding=1))

    def forward(self, attributes, images=None, noise=None):
        size = images.shape[-1]
        planes = attributes[:, :, None, None].expand(-1, -1, size, size)
        return self.body(torch.cat([images, planes.to(images.dtype)], dim=1))

    def decode_features(self, features):
        return torch.tanh(self.decoder(features))


class TinyNoiseGenerator(Generator):
    """Draws images from noise and attributes by one linear layer (and decodes reconstruction
    features by another); ``detach`` cuts its images from the graph, a bug to be caught."""

    name = "tiny_noise"

    class Params(Component.Params):
        detach: bool = False

    def __init__(self, params, *, dims, feature_shape):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        pixels = dims.channels * dims.image_size**2
        self.linear = nn.Linear(dims.noise_dim + dims.num_attributes, pixels)
        if feature_shape is not None:
            self.decode = nn.Linear(math.prod(feature_shape), pixels)

    def _image(self, flat):
        side = self.dims.image_size
        image = torch.tanh(flat).view(-1, self.dims.channels, side, side)
        return image.detach() if self.params.detach else image

    def forward(self, attributes, images=None, noise=None):
        return self._image(self.linear(torch.cat([noise, attributes], dim=1)))

    def decode_features(self, features):
        return self._image(self.decode(features.flatten(1)))


class TinyTrunk(Trunk):
    """Spectral-normalised stride-2 convs, one per entry of ``channels``: by default 16 px to
    8x8x4 features."""

    name = "tiny_trunk"

    class Params(Component.Params):
        channels: list[int] = Field(default_factory=lambda: [4])

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        widths = [dims.channels, *params.channels]
        self.convs = nn.ModuleList(
            spectral_norm(nn.Conv2d(a, b, 4, stride=2, padding=1))
            for a, b in zip(widths, widths[1:], strict=False)
        )

    def forward(self, images):
        for conv in self.convs:
            images = nn.functional.leaky_relu(conv(images), 0.2)
        return images

    def describe(self):
        return f"with {len(self.params.channels)} stride-2 blocks"


class _ConvHead(Head):
    """A ``kernel``×``kernel`` conv to the role's width, averaged over positions; refuses
    features smaller than its kernel."""

    class Params(Component.Params):
        kernel: int = Field(3, ge=1)

    def __init__(self, params, *, dims, in_shape):
        super().__init__(params, dims=dims, in_shape=in_shape)
        width = {"real_fake": 1, "attribute": dims.num_attributes, "embedding": dims.embedding_dim}
        self.conv = nn.Conv2d(in_shape[0], width[self.role], params.kernel)

    @classmethod
    def input_problem(cls, params, in_shape):
        if min(in_shape[1:]) < params.kernel:
            return f"needs at least {params.kernel}×{params.kernel} features"
        return None

    def forward(self, features):
        return self.conv(features).mean(dim=(2, 3)).squeeze(1)


class TinyRealFake(_ConvHead):
    """A score per image."""

    name, role = "tiny_real_fake", "real_fake"


class TinyAttribute(_ConvHead):
    """The class attributes of each image."""

    name, role = "tiny_attribute", "attribute"


class TinyEmbedding(EmbeddingHead, _ConvHead):
    """An embedding and a seen-class classifier on it."""

    name, role = "tiny_embedding", "embedding"

    def __init__(self, params, *, dims, in_shape):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.classifier = nn.Linear(dims.embedding_dim, dims.num_seen_classes)

    def class_logits(self, embedding):
        return self.classifier(embedding)


class TinyReconstruction(Head):
    """The trunk's features, as they are, for the generator to decode."""

    name = "tiny_reconstruction"
    role = "reconstruction_feature"

    def forward(self, features):
        return features


class TinySemantic(SemanticEncoder):
    """A linear map from attributes to the embedding space."""

    name = "tiny_semantic"

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        self.linear = nn.Linear(dims.num_attributes, dims.embedding_dim)

    def forward(self, attributes):
        return self.linear(attributes)


class TinyLSGAN(Loss):
    """Least squares on real/fake scores, with the step's (smoothed, flipped) targets."""

    name = "tiny_lsgan"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step):
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            return ((1 - fake) ** 2).mean()
        real_target, fake_target = step.real_fake_targets()
        real = step.head("real_fake", "real")
        return ((real_target - real) ** 2).mean() + ((fake_target - fake) ** 2).mean()


class TinyCosine(Loss):
    """Cosine of image and attribute embeddings, plus the classifier's cross-entropy."""

    name = "tiny_cosine"
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    def forward(self, step):
        if step.phase == "generator":
            cos = nn.functional.cosine_similarity(
                step.head("embedding", "fake"), step.semantic("target")
            )
            return ((1 - cos) ** 2).mean()
        own, other = step.cosine_targets()
        embedding = step.head("embedding", "real")
        cos_own = nn.functional.cosine_similarity(embedding, step.semantic("own"))
        cos_other = nn.functional.cosine_similarity(embedding, step.semantic("other"))
        ce = nn.functional.cross_entropy(step.class_logits("real"), step.labels("own"))
        return ((own - cos_own) ** 2).mean() + ((other - cos_other) ** 2).mean() + ce


class TinyReconstructionLoss(Loss):
    """L1 between real images and G(D_enc(x))."""

    name = "tiny_rec"
    phases: ClassVar[frozenset[str]] = frozenset({"generator"})
    requires: ClassVar[frozenset[str]] = frozenset({"reconstruction_feature"})

    def forward(self, step):
        return (step.reconstruction() - step.real()).abs().mean()


class NanAfter(Loss):
    """Zero for ``after`` calls, then NaN for ``count`` calls, then zero again."""

    name = "nan_after"

    class Params(Loss.Params):
        after: int = Field(0, description="calls that return a finite value")
        count: int = Field(10**9, description="calls that return NaN")

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        self.calls = 0

    def forward(self, step):
        self.calls += 1
        value = step.head("real_fake", "fake").mean() * 0.0
        bad = self.params.after < self.calls <= self.params.after + self.params.count
        return value + (float("nan") if bad else 0.0)


class TinyData(Dataset):
    """Five flat-coloured classes of 16-px images, written under ``root`` when missing."""

    name = "tiny_data"

    class Params(Dataset.Params):
        root: str = Field("data/tiny", description="folder of the images")

    def load(self):
        return make_data(Path(self.params.root))


COMPONENTS = [
    TinyData,
    TinyTranslator,
    TinyNoiseGenerator,
    TinyTrunk,
    TinyRealFake,
    TinyAttribute,
    TinyEmbedding,
    TinyReconstruction,
    TinySemantic,
    TinyLSGAN,
    TinyCosine,
    TinyReconstructionLoss,
    NanAfter,
]


class _Plugin:
    @staticmethod
    @hookimpl
    def zsk_register_components(register):
        for cls in COMPONENTS:
            register(cls)


def register() -> None:
    register_plugin(_Plugin(), name=PLUGIN)


def unregister() -> None:
    unregister_plugin(PLUGIN)


@contextmanager
def registered() -> Iterator[None]:
    """The tiny components registered for the ``with`` block."""
    register()
    try:
        yield
    finally:
        unregister()


def make_data(root: Path, per_class: int = 6) -> ZslData:
    """Five flat-coloured classes of 16-px PNGs with a little noise; three seen, two unseen."""
    rng = np.random.default_rng(0)
    colours = np.array([[220, 30, 30], [30, 200, 40], [40, 50, 210], [240, 240, 240], [15, 15, 15]])
    attributes = torch.tensor(colours / 255.0, dtype=torch.float32)
    samples: dict[int, list[Sample]] = {}
    for label, name in enumerate(CLASSES):
        folder = root / "JPEGImages" / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = colours[label] + rng.integers(-20, 20, size=(SIZE, SIZE, 3))
            path = folder / f"{name}_{index}.png"
            if not path.exists():
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
            samples.setdefault(label, []).append(Sample(path, label))
    return ZslData(
        root=root,
        classes=list(CLASSES),
        predicates=["r", "g", "b"],
        attributes=attributes,
        seen=list(SEEN),
        unseen=list(UNSEEN),
        train=[s for c in SEEN for s in samples[c]],
        test_seen=[],
        test_unseen=[s for c in UNSEEN for s in samples[c]],
    )


if __name__ == "__main__":  # `python tiny_components.py train RUN ...`: the CLI with these parts
    import sys

    from zsk.core.cli.main import cli

    register()
    cli(sys.argv[1:], prog_name="zsk")
