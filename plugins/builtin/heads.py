"""Built-in discriminator heads, one per standard role.

Every head starts with one (weight-normalised) conv over the trunk's features; a conv with
kernel k and padding p leaves (H + 2p - k + 1) positions, so it needs features of at least
(k - 2p)×(k - 2p). Per-image outputs average over the remaining positions.
"""

from __future__ import annotations

import abc
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Dims, EmbeddingHead, Head
from zsk.core.spec.refs import NormalizerRef
from zsk.plugins.builtin.blocks import spatial_mean, weight_norm_field
from zsk.registry import Component, hookimpl


class _ConvHeadParams(Component.Params):
    kernel_size: int = Field(4, ge=1, description="kernel of the head's conv")
    padding: int = Field(1, ge=0, description="zero padding of the head's conv")
    weight_norm: NormalizerRef = weight_norm_field()


class _ConvHead(Head, abc.ABC):
    """A head whose first layer, ``self.conv``, is one conv from the trunk's channels to
    :meth:`out_channels`."""

    def __init__(self, params: Component.Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        conv = nn.Conv2d(
            in_shape[0], self.out_channels(), params.kernel_size, padding=params.padding
        )
        self.conv = params.weight_norm.build().wrap(conv)

    def _pointwise(self) -> bool:
        return self.params.kernel_size == 1 and self.params.padding == 0

    def pooled(self, features: torch.Tensor) -> torch.Tensor:
        """The head's conv averaged over positions, (B, out_channels). A 1×1 conv without
        padding is linear per position, so it is applied to the averaged features instead:
        the same numbers at a fraction of the cost."""
        if self._pointwise():
            # as a linear layer: a convolution over one position costs several times more
            weight = self.conv.weight.flatten(1)
            return F.linear(spatial_mean(features), weight, self.conv.bias)
        return spatial_mean(self.conv(features))

    @abc.abstractmethod
    def out_channels(self) -> int:
        """Channels of the head's conv: what the subclass predicts per position."""

    @classmethod
    def input_problem(cls, params: Component.Params, in_shape: tuple[int, int, int]) -> str | None:
        need = params.kernel_size - 2 * params.padding
        if min(in_shape[1], in_shape[2]) < need:
            return (
                f"needs at least {need}×{need} features "
                f"(kernel {params.kernel_size}, padding {params.padding})"
            )
        return None


class RealFakeHead(_ConvHead):
    """A real/fake score per image, or per patch with ``patch``."""

    name = "real_fake"
    role = "real_fake"

    class Params(_ConvHeadParams):
        patch: bool = Field(False, description="one score per patch (B, 1, h, w), not per image")

    def out_channels(self) -> int:
        return 1

    def pools_positions(self) -> bool:
        return self._pointwise() and not self.params.patch

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.params.patch:
            return self.conv(features)
        return self.pooled(features).squeeze(1)


class AttributeHead(_ConvHead):
    """The attributes of an image, (B, num_attributes), for the AttGAN-style attribute loss."""

    name = "attribute"
    role = "attribute"

    class Params(_ConvHeadParams):
        output: Literal["linear", "sigmoid", "tanh"] = Field(
            "linear",
            description="output activation: linear, sigmoid (attributes in [0, 1]) or tanh",
        )

    def out_channels(self) -> int:
        return self.dims.num_attributes

    def pools_positions(self) -> bool:
        return self._pointwise()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        attributes = self.pooled(features)
        if self.params.output == "sigmoid":
            return torch.sigmoid(attributes)
        if self.params.output == "tanh":
            return torch.tanh(attributes)
        return attributes


class ConvEmbeddingHead(EmbeddingHead, _ConvHead):
    """The visual embedding φ(x), (B, embedding_dim), with an optional seen-class classifier.

    The classifier (Zhang et al. 2018) is a linear layer from φ(x) to the seen classes; its
    cross-entropy on real images keeps every image and class from collapsing to one vector.
    """

    name = "embedding"
    role = "embedding"

    class Params(_ConvHeadParams):
        classifier: bool = Field(True, description="a softmax classifier over the seen classes")

    def out_channels(self) -> int:
        return self.dims.embedding_dim

    def pools_positions(self) -> bool:
        return self._pointwise()

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.classifier = (
            nn.Linear(dims.embedding_dim, dims.num_seen_classes) if params.classifier else None
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.pooled(features)

    def class_logits(self, embedding: torch.Tensor) -> torch.Tensor | None:
        return None if self.classifier is None else self.classifier(embedding)


class ReconstructionFeatureHead(_ConvHead):
    """Per-image features D_enc(x) the generator decodes back to the image, (B, channels, h, w).

    Kept apart from the embedding on purpose: the embedding should agree within a class, these
    features should differ per image.
    """

    name = "reconstruction_feature"
    role = "reconstruction_feature"

    class Params(_ConvHeadParams):
        channels: int = Field(64, ge=1, description="channels of the features")
        kernel_size: int = Field(3, ge=1, description="kernel of the head's conv")

    def out_channels(self) -> int:
        return self.params.channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features)


@hookimpl
def zsk_register_components(register):
    for cls in (RealFakeHead, AttributeHead, ConvEmbeddingHead, ReconstructionFeatureHead):
        register(cls)
