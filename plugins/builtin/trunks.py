"""Built-in discriminator trunks: the notebook's SN-conv body, and any timm architecture."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Dims, Trunk
from zsk.core.data import timm_models
from zsk.core.spec.refs import AttentionRef, NormalizerRef
from zsk.plugins.builtin.blocks import (
    Activation,
    BlockStyle,
    attention_at_field,
    attention_field,
    feature_norm_field,
    resolve_indices,
    weight_norm_field,
)
from zsk.plugins.builtin.normalizers import cancels_channel_bias
from zsk.registry import Component, UserError, hookimpl


class SNConvTrunk(Trunk):
    """Strided 4×4 SN-convs with LeakyReLU, instance norm, dropout and self-attention (notebook D).

    One stride-2 block per entry of ``channels``, so the output is (channels[-1],
    image_size / 2^len(channels), same). Feature norm applies from block ``norm_from`` on
    (the notebook: from the second), dropout from ``dropout_from`` on.
    """

    name = "sn_conv"

    class Params(Component.Params):
        channels: list[int] = Field(
            default_factory=lambda: [32, 64, 128, 256],
            min_length=1,
            description="output width of each stride-2 block (notebook: 32 ... 1024)",
        )
        weight_norm: NormalizerRef = weight_norm_field()
        feature_norm: NormalizerRef = feature_norm_field("instance")
        norm_from: int = Field(1, ge=0, description="index of the first block with feature norm")
        activation: Activation = Field("leaky_relu", description="activation after each block")
        negative_slope: float = Field(0.2, ge=0, description="slope of leaky_relu for x < 0")
        dropout: float = Field(0.25, ge=0, lt=1, description="dropout after deeper blocks")
        dropout_from: int = Field(2, ge=0, description="index of the first block with dropout")
        attention: AttentionRef = attention_field()
        attention_at: list[int] = attention_at_field([-2, -1])
        bias_before_norm: bool = Field(
            True,
            description="give a conv that batch or instance norm follows a bias; the norm "
            "subtracts each channel's mean, which cancels it, so false computes the same "
            "function at less cost",
        )

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        where = f"trunk '{self.name}'"
        depth = len(params.channels)
        stride = 2**depth
        if dims.image_size % stride:
            raise UserError(
                f"{where}: {depth} stride-2 blocks need an image_size that is a multiple of "
                f"{stride}; got {dims.image_size}",
                hint="remove entries from channels, or use larger images",
            )
        style = BlockStyle.from_params(params, resolve_indices(params.attention_at, depth, where))
        blocks = []
        width = dims.channels
        for index, out in enumerate(params.channels):
            normalize = index >= params.norm_from
            cancelled = normalize and cancels_channel_bias(style.feature_norm)
            bias = params.bias_before_norm or not cancelled
            conv = nn.Conv2d(width, out, 4, stride=2, padding=1, bias=bias)
            blocks.append(style.block(index, conv, out, normalize=normalize))
            width = out
        self.blocks = nn.Sequential(*blocks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.blocks(images)

    def describe(self) -> str:
        return f"with {len(self.params.channels)} stride-2 blocks"


class TimmTrunk(Trunk):
    """Any convolutional timm architecture's feature extractor, optionally with local weights.

    The model is built with ``pretrained=False, num_classes=0, global_pool=""`` and its
    ``forward_features`` gives the trunk's (B, C, H, W) output (channels-last outputs are
    permuted). Nothing is ever downloaded: ``weights`` names a local safetensors file.
    """

    name = "timm"

    class Params(Component.Params):
        architecture: str = Field("resnet18", description="a timm model name, e.g. resnet50")
        weights: str | None = Field(
            None, description="local .safetensors file with the architecture's weights"
        )

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        where = f"trunk '{self.name}'"
        self.model = timm_models.create(
            params.architecture, where, num_classes=0, global_pool="", in_chans=dims.channels
        )
        if params.weights is not None:
            timm_models.load_local_weights(
                self.model, Path(params.weights), params.architecture, where
            )
        self._channels_last = self._check_layout(where)

    @torch.no_grad()
    def _check_layout(self, where: str) -> bool:
        """Whether forward_features gives channels last; refuse token (ViT-like) outputs."""
        was_training = self.model.training
        self.model.eval()
        size = self.dims.image_size
        try:
            out = self.model.forward_features(torch.zeros(1, self.dims.channels, size, size))
        except (RuntimeError, ValueError, AssertionError) as exc:
            raise UserError(
                f"{where}: '{self.params.architecture}' cannot take {size}×{size} images: {exc}",
                hint="choose another image_size or architecture",
            ) from None
        finally:
            self.model.train(was_training)
        if out.dim() != 4:
            raise UserError(
                f"{where}: '{self.params.architecture}' gives features of shape "
                f"{tuple(out.shape)}, not (B, C, H, W)",
                hint="choose a convolutional architecture such as resnet*, convnext* or "
                "efficientnet*",
            )
        num_features = self.model.num_features
        return out.shape[1] != num_features and out.shape[-1] == num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.model.forward_features(images)
        return features.permute(0, 3, 1, 2) if self._channels_last else features

    def describe(self) -> str:
        feature_info = getattr(self.model, "feature_info", None) or [{}]
        reduction = feature_info[-1].get("reduction")
        stride = f", output stride {reduction}" if reduction else ""
        return f"(timm '{self.params.architecture}'{stride})"


@hookimpl
def zsk_register_components(register):
    register(SNConvTrunk)
    register(TimmTrunk)
