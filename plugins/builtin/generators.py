"""Built-in generators: the report's image-translating encoder-decoder and the notebook's decoder.

Both end in the same decoder: a first block at the bottleneck resolution, stride-2 upsampling
blocks, and a stride-2 transposed conv to the image with tanh. Widths double from
``base_channels`` next to the image up to ``max_channels``; the number of blocks follows from
``image_size`` and ``bottleneck_size``, so one set of params serves 32 to 256 pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from zsk.core.components.interfaces import Dims, Generator, SourceImages
from zsk.core.spec.refs import AttentionRef, NormalizerRef
from zsk.plugins.builtin.blocks import (
    Activation,
    BlockStyle,
    attention_at_field,
    attention_field,
    feature_norm_field,
    mlp,
    resolve_indices,
    weight_norm_field,
)
from zsk.registry import Component, UserError, hookimpl


class _GeneratorParams(Component.Params):
    base_channels: int = Field(64, ge=1, description="width of the block next to the image")
    max_channels: int = Field(
        512, ge=1, description="widths double towards the bottleneck, to this"
    )
    bottleneck_size: int = Field(4, ge=1, description="side of the bottleneck feature map, pixels")
    weight_norm: NormalizerRef = weight_norm_field()
    feature_norm: NormalizerRef = feature_norm_field("batch")
    activation: Activation = Field("leaky_relu", description="activation after each block")
    negative_slope: float = Field(0.2, ge=0, description="slope of leaky_relu for x < 0")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after blocks from dropout_from on")
    dropout_from: int = Field(1, ge=0, description="index of the first block with dropout")
    attention: AttentionRef = attention_field()
    attention_at: list[int] = attention_at_field([-2], "decoder blocks")


def _depth(image_size: int, bottleneck_size: int, where: str) -> int:
    """Stride-2 steps between the bottleneck and the image."""
    ratio, rest = divmod(image_size, bottleneck_size)
    if rest or ratio < 2 or ratio & (ratio - 1):
        raise UserError(
            f"{where}: image_size {image_size} is not bottleneck_size {bottleneck_size} "
            "times a power of two (at least 2)",
            hint="use image sizes such as 32, 64, 128 or 256 with bottleneck_size 4",
        )
    return int(math.log2(ratio))


def _widths(params: _GeneratorParams, depth: int) -> list[int]:
    """Widths of the blocks from the image side: base·2^i capped at max_channels."""
    return [min(params.base_channels * 2**i, params.max_channels) for i in range(depth)]


class _Decoder(nn.Module):
    """First block at the bottleneck, ``depth - 1`` stride-2 up blocks, then the image layer.

    With ``condition_channels`` > 0 every up block also receives a condition vector (the target
    attributes), tiled over its input: the decoder can use them at every scale, not only where
    the bottleneck joined them.
    """

    def __init__(
        self,
        first_conv: nn.Module,
        widths: list[int],
        out_channels: int,
        style: BlockStyle,
        condition_channels: int = 0,
    ):
        super().__init__()
        depth = len(widths)
        top = widths[-1]
        blocks = [style.block(0, first_conv, top)]
        for index in range(1, depth):
            wide, narrow = widths[depth - index], widths[depth - index - 1]
            up = nn.ConvTranspose2d(wide + condition_channels, narrow, 4, stride=2, padding=1)
            blocks.append(style.block(index, up, narrow))
        self.blocks = nn.Sequential(*blocks)
        self.condition_channels = condition_channels
        to_image = nn.ConvTranspose2d(widths[0], out_channels, 4, stride=2, padding=1)
        self.to_image = style.weight_norm.wrap(to_image)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if not self.condition_channels:
            return torch.tanh(self.to_image(self.blocks(x)))
        if condition is None or condition.shape[1] != self.condition_channels:
            raise ValueError(f"this decoder needs a condition of {self.condition_channels} values")
        x = self.blocks[0](x)
        for block in self.blocks[1:]:
            tiled = condition[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = block(torch.cat([x, tiled.to(x.dtype)], dim=1))
        return torch.tanh(self.to_image(x))


def _no_feature_head(name: str) -> UserError:
    return UserError(
        f"generator '{name}' was built without a reconstruction-feature head, "
        "so it cannot decode features",
        hint="add a head with role reconstruction_feature to model.heads",
    )


class EncoderDecoder(Generator):
    """The report's G: encode an image, join target attributes at the bottleneck, decode.

    SN-conv encoder blocks (4×4, stride 2; no feature norm on the first) take the image down to
    ``bottleneck_size``; the target attributes (and, with ``noise``, ``dims.noise_dim`` Gaussian
    channels) are tiled over the bottleneck and concatenated (with ``condition_every_block``,
    also at every up block); the decoder restores an image of the input's size. With
    ``source_dropout`` a transposed conv also projects the attributes and noise to a bottleneck
    code: it replaces that share of the encoded sources in training, and stands in for the
    source when none is given, so the same network translates and imagines.
    ``decode_features`` pools the reconstruction features to the bottleneck and maps them by a
    learned 1×1 conv to the decoder's input.
    """

    name = "encoder_decoder"

    class Params(_GeneratorParams):
        base_channels: int = Field(32, ge=1, description="width of the block next to the image")
        max_channels: int = Field(
            256, ge=1, description="widths double towards the bottleneck, to this"
        )
        noise: bool = Field(False, description="also concatenate noise_dim noise channels")
        encoder_attention_at: list[int] = attention_at_field([], "encoder blocks")
        condition_every_block: bool = Field(
            False,
            description="also join the target attributes to every decoder block's input, "
            "not only at the bottleneck",
        )
        source_dropout: float = Field(
            0.0,
            ge=0,
            lt=1,
            description="share of training fakes made without their source image, from a code "
            "imagined from the target attributes and noise; above 0, G also imagines without one",
        )

        @model_validator(mode="after")
        def _source_free_images_need_noise(self):
            if self.source_dropout > 0 and not self.noise:
                raise ValueError(
                    "source_dropout needs noise: true, or every image G makes without a "
                    "source for one class would be the same"
                )
            return self

    def __init__(self, params: Params, *, dims: Dims, feature_shape: tuple[int, ...] | None = None):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        depth = _depth(dims.image_size, params.bottleneck_size, f"generator '{self.name}'")
        widths = _widths(params, depth)
        where = f"generator '{self.name}'"
        encoder_style = BlockStyle.from_params(
            params, resolve_indices(params.encoder_attention_at, depth, f"{where} encoder")
        )
        decoder_style = BlockStyle.from_params(
            params, resolve_indices(params.attention_at, depth, f"{where} decoder")
        )
        encoder = []
        width = dims.channels
        for index, out in enumerate(widths):
            conv = nn.Conv2d(width, out, 4, stride=2, padding=1)
            encoder.append(encoder_style.block(index, conv, out, normalize=index > 0))
            width = out
        self.encoder = nn.Sequential(*encoder)
        self.noise_channels = dims.noise_dim if params.noise else 0
        if params.source_dropout > 0:
            # stands in for the encoder without a source: like noise_decoder's first layer, a
            # position-specific projection, so the imagined code has a spatial layout
            self.imagination = nn.ConvTranspose2d(
                dims.num_attributes + self.noise_channels, widths[-1], params.bottleneck_size
            )
        self.decoder_in = widths[-1] + dims.num_attributes + self.noise_channels
        fuse = nn.Conv2d(self.decoder_in, widths[-1], 3, padding=1)
        condition_channels = dims.num_attributes if params.condition_every_block else 0
        self.decoder = _Decoder(fuse, widths, dims.channels, decoder_style, condition_channels)
        if feature_shape is not None:
            maps = feature_shape[0] if len(feature_shape) == 3 else math.prod(feature_shape)
            self.feature_projection = nn.Conv2d(maps, self.decoder_in, 1)

    def forward(
        self,
        attributes: torch.Tensor,
        images: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        condition = attributes
        if self.noise_channels:
            if noise is None:
                noise = torch.randn(len(attributes), self.noise_channels, device=attributes.device)
            condition = torch.cat([attributes, noise.to(attributes.dtype)], dim=1)
        code = self._source_code(condition, images)
        condition = condition.to(code.dtype)
        tiled = condition[:, :, None, None].expand(-1, -1, *code.shape[2:])
        return self.decoder(torch.cat([code, tiled], dim=1), attributes.to(code.dtype))

    @property
    def source_images(self) -> SourceImages:  # type: ignore[override]
        return "optional" if self.params.source_dropout > 0 else "required"

    @property
    def takes_noise(self) -> bool:
        return self.noise_channels > 0

    def _source_code(self, condition: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
        """The encoded source image; or, without one, the code imagined from ``condition``
        (target attributes and noise) — also for ``source_dropout`` of the fakes in training."""
        if images is None:
            if self.source_images == "required":
                raise ValueError(f"generator '{self.name}' translates images: pass `images`")
            return self._imagined_code(condition)
        code = self.encoder(images)
        if self.training and self.params.source_dropout > 0:
            dropped = torch.rand(len(code), device=code.device) < self.params.source_dropout
            imagined = self._imagined_code(condition).to(code.dtype)
            code = torch.where(dropped[:, None, None, None], imagined, code)
        return code

    def _imagined_code(self, condition: torch.Tensor) -> torch.Tensor:
        projected = self.imagination(condition[:, :, None, None])
        return F.leaky_relu(projected, self.params.negative_slope)

    def decode_features(self, features: torch.Tensor) -> torch.Tensor:
        if self.feature_shape is None:
            raise _no_feature_head(self.name)
        if len(self.feature_shape) != 3:  # vectors (or other shapes) as 1×1 maps
            features = features.reshape(features.shape[0], -1, 1, 1)
        size = self.params.bottleneck_size
        pooled = F.adaptive_avg_pool2d(features, (size, size))
        # the report's reconstruction path has no target attributes: the up blocks get zeros
        blank = pooled.new_zeros(len(pooled), self.decoder.condition_channels)
        return self.decoder(self.feature_projection(pooled), blank)


class NoiseDecoder(Generator):
    """The notebook's G: noise with a learned scale and shift, plus encoded attributes, decoded.

    ``dims.noise_dim`` Gaussian noise (drawn in ``forward`` when not given) is scaled and
    shifted per dimension by learned vectors and concatenated with an MLP encoding of the
    attributes (notebook: A→128→192→256, LeakyReLU 0.2, dropout 0.25). A transposed conv turns
    that vector into the bottleneck map and the decoder restores the image. ``decode_features``
    maps the flattened reconstruction features by a learned linear layer to the same vector.
    """

    name = "noise_decoder"
    source_images = "unused"

    class Params(_GeneratorParams):
        dropout: float = Field(
            0.25, ge=0, lt=1, description="dropout after blocks from dropout_from on"
        )
        dropout_from: int = Field(2, ge=0, description="index of the first block with dropout")
        attribute_hidden: list[int] = Field(
            default_factory=lambda: [128, 192], description="hidden widths of the attribute MLP"
        )
        attribute_dim: int = Field(256, ge=1, description="size of the attribute encoding")
        attribute_dropout: float = Field(
            0.25, ge=0, lt=1, description="dropout in the attribute MLP"
        )

    def __init__(self, params: Params, *, dims: Dims, feature_shape: tuple[int, ...] | None = None):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        where = f"generator '{self.name}'"
        depth = _depth(dims.image_size, params.bottleneck_size, where)
        widths = _widths(params, depth)
        style = BlockStyle.from_params(
            params, resolve_indices(params.attention_at, depth, f"{where} decoder")
        )
        self.noise_scale = nn.Parameter(torch.ones(dims.noise_dim))
        self.noise_shift = nn.Parameter(torch.zeros(dims.noise_dim))
        self.attribute_encoder = mlp(
            [dims.num_attributes, *params.attribute_hidden, params.attribute_dim],
            params.negative_slope,
            dropout=params.attribute_dropout,
        )
        self.code_dim = dims.noise_dim + params.attribute_dim
        project = nn.ConvTranspose2d(self.code_dim, widths[-1], params.bottleneck_size)
        self.decoder = _Decoder(project, widths, dims.channels, style)
        if feature_shape is not None:
            self.feature_projection = nn.Linear(math.prod(feature_shape), self.code_dim)

    def forward(
        self,
        attributes: torch.Tensor,
        images: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        encoded = self.attribute_encoder(attributes)
        if noise is None:
            noise = torch.randn(attributes.shape[0], self.dims.noise_dim, device=encoded.device)
        noise = noise.to(encoded.dtype) * self.noise_scale + self.noise_shift
        code = torch.cat([noise, encoded], dim=1)
        return self.decoder(code[:, :, None, None])

    def decode_features(self, features: torch.Tensor) -> torch.Tensor:
        if self.feature_shape is None:
            raise _no_feature_head(self.name)
        code = self.feature_projection(features.flatten(1))
        return self.decoder(code[:, :, None, None])


@hookimpl
def zsk_register_components(register):
    register(EncoderDecoder)
    register(NoiseDecoder)
