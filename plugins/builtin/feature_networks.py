"""Built-in networks over feature vectors: the feature-generating route (f-CLSWGAN and kin).

A feature data set (``ZslData.features``, e.g. the field's ResNet-101 features) is learnt by
generating its feature vectors instead of pixels (Xian et al. CVPR 2018). The networks are MLPs:

* generator ``feature_mlp``: [noise, attributes] → hidden layers (LeakyReLU) → a feature vector,
  ReLU at the output since pooled CNN features are non-negative;
* trunk ``feature_mlp``: a feature vector → hidden layers → (B, C, 1, 1), so every head reads it
  as an image trunk's features (the conv heads with ``kernel_size: 1, padding: 0``); with no
  hidden layers it passes the vector on unchanged;
* conditional head ``concat_critic``: an MLP over [trunk features, class attributes] → one
  score, f-CLSWGAN's critic D(x, a) when the trunk passes x on unchanged.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from zsk.core.components.interfaces import Condition, Dims, Generator, Head, Trunk
from zsk.core.spec.refs import NormalizerRef
from zsk.plugins.builtin.blocks import Init, mlp, weight_norm_field
from zsk.registry import Component, UserError, hookimpl

_HIDDEN = Field(
    default_factory=lambda: [4096],
    description="widths of the hidden layers (f-CLSWGAN: one of 4096)",
)
_SLOPE = Field(0.2, ge=0, description="negative slope of the hidden layers' LeakyReLU")
_INIT = Field(
    "torch",
    description="the linear layers' initial weights: 'torch' (PyTorch's default, uniform within "
    "1/sqrt(fan_in)) or 'normal' (weights from N(0, 0.02), zero biases: f-CLSWGAN's release)",
)


def _needs_features(dims: Dims, what: str) -> None:
    if not dims.feature_dim:
        raise UserError(
            f"{what} works on feature vectors, but the data set holds images",
            hint="use a feature data set (pre-extracted CNN features), or an image component",
        )


class FeatureGenerator(Generator):
    """Feature vectors from class attributes and noise: ``G(z, a)`` of f-CLSWGAN.

    The input is ``[z, a]`` with ``z`` of ``model.noise_dim`` Gaussian values (f-CLSWGAN sets
    the noise size to the number of attributes); hidden layers with LeakyReLU; the output is
    ReLU (non-negative features, as pooled after a ReLU) or linear.
    """

    name = "feature_mlp"

    class Params(Component.Params):
        hidden: list[int] = _HIDDEN
        negative_slope: float = _SLOPE
        output: Literal["relu", "linear"] = Field(
            "relu", description="output activation: relu (non-negative features) or linear"
        )
        init: Init = _INIT
        weight_norm: NormalizerRef = weight_norm_field("none")

    def __init__(self, params: Params, *, dims: Dims, feature_shape: tuple[int, ...] | None = None):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        _needs_features(dims, f"generator '{self.name}'")
        widths = [dims.noise_dim + dims.num_attributes, *params.hidden, dims.feature_dim]
        self.net = mlp(widths, params.negative_slope, params.weight_norm, init=params.init)

    @property
    def takes_noise(self) -> bool:
        return self.dims.noise_dim > 0

    def forward(
        self,
        attributes: torch.Tensor,
        images: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = attributes
        if self.dims.noise_dim:
            if noise is None:
                noise = torch.randn(len(attributes), self.dims.noise_dim, device=attributes.device)
            inputs = torch.cat([noise.to(attributes.dtype), attributes], dim=1)
        out = self.net(inputs)
        return torch.relu(out) if self.params.output == "relu" else out

    def decode_features(self, features: torch.Tensor) -> torch.Tensor:
        raise UserError(
            f"generator '{self.name}' has no reconstruction path: it makes feature vectors from "
            "attributes and noise",
            hint="remove model.heads.reconstruction_feature and the l1_reconstruction term",
        )


class FeatureTrunk(Trunk):
    """An MLP over feature vectors, returning (B, C, 1, 1); with ``hidden: []`` the vector
    itself (B, feature_dim, 1, 1), as f-CLSWGAN's critic reads the feature directly."""

    name = "feature_mlp"

    class Params(Component.Params):
        hidden: list[int] = _HIDDEN
        negative_slope: float = _SLOPE
        dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each hidden layer")
        init: Init = _INIT
        weight_norm: NormalizerRef = weight_norm_field("none")

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        _needs_features(dims, f"trunk '{self.name}'")
        widths = [dims.feature_dim, *params.hidden]
        # the last hidden layer is activated too: heads read its (non-linear) features
        self.net = mlp(
            widths,
            params.negative_slope,
            params.weight_norm,
            init=params.init,
            dropout=params.dropout,
            activate_last=True,
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.flatten(1))[:, :, None, None]

    def describe(self) -> str:
        return f"(an MLP with hidden layers {self.params.hidden})"


class ConcatCritic(Head):
    """A real/fake score of ``[h, a]``: the trunk's features h beside the judged class's
    attributes a, through an MLP (f-CLSWGAN's conditional critic, hidden 4096)."""

    name = "concat_critic"
    role = "real_fake"
    condition = frozenset({"attributes"})

    class Params(Component.Params):
        hidden: list[int] = _HIDDEN
        negative_slope: float = _SLOPE
        init: Init = _INIT
        weight_norm: NormalizerRef = weight_norm_field("none")

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        size = in_shape[0] * in_shape[1] * in_shape[2]
        widths = [size + dims.num_attributes, *params.hidden, 1]
        self.net = mlp(widths, params.negative_slope, params.weight_norm, init=params.init)

    def forward(self, features: torch.Tensor, condition: Condition) -> torch.Tensor:
        inputs = torch.cat([features.flatten(1), condition.attributes.to(features.dtype)], dim=1)
        return self.net(inputs).squeeze(1)


@hookimpl
def zsk_register_components(register):
    for cls in (FeatureGenerator, FeatureTrunk, ConcatCritic):
        register(cls)
