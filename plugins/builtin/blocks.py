"""Building blocks shared by the built-in networks: conv blocks, MLPs and their common params.

A block is ``conv → feature norm → activation → dropout → attention`` as an ``nn.Sequential``
with named parts (``conv``, ``norm``, ``act``, ``drop``, ``attn``), so checkpoints have stable,
readable keys. :class:`BlockStyle` holds everything a network's params say about its blocks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Normalizer
from zsk.core.spec.refs import AttentionRef, NormalizerRef
from zsk.registry import UserError

#: how a linear layer's weights start: PyTorch's default, or N(0, INIT_STD) with zero biases
Init = Literal["torch", "normal"]
#: the standard deviation of the 'normal' initialisation (f-CLSWGAN's and DCGAN's)
INIT_STD = 0.02

Activation = Literal["leaky_relu", "relu"]


def weight_norm_field(default: str = "spectral") -> Any:
    return Field(
        default_factory=lambda: NormalizerRef(type=default),
        description="normaliser of every conv kernel (weight role), e.g. spectral or none",
    )


def feature_norm_field(default: str) -> Any:
    return Field(
        default_factory=lambda: NormalizerRef(type=default),
        description="normaliser of feature maps after each conv (feature role), e.g. batch",
    )


def attention_field() -> Any:
    return Field(
        default_factory=lambda: AttentionRef(type="sagan"),
        description="the attention block placed after the blocks listed in attention_at",
    )


def attention_at_field(default: list[int], where: str = "blocks") -> Any:
    return Field(
        default_factory=lambda: list(default),
        description=f"indices of the {where} followed by attention (negative: from the end)",
    )


def spatial_mean(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) maps averaged over positions, (B, C): ``mean(dim=(2, 3))``'s numbers, as a
    sum divided by H·W, whose backward broadcasts the gradient without materialising it (mean's
    divides every position, which costs more than the heads' linear layers)."""
    return maps.sum(dim=(2, 3)) / (maps.shape[2] * maps.shape[3])


def make_activation(kind: Activation, negative_slope: float, *, inplace: bool = False) -> nn.Module:
    """The activation module; ``inplace`` overwrites its input (torch's in-place LeakyReLU
    backward needs a positive slope, so a slope of 0 stays out of place)."""
    if kind == "relu":
        return nn.ReLU(inplace=inplace)
    return nn.LeakyReLU(negative_slope, inplace=inplace and negative_slope > 0)


def resolve_indices(indices: list[int], count: int, where: str) -> frozenset[int]:
    """Block indices (negative ones counted from the end) as a set of indices in 0..count-1."""
    resolved = set()
    for index in indices:
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            raise UserError(
                f"{where}: block index {index} is out of range; there are {count} blocks",
                hint=f"use indices from 0 to {count - 1} (or -{count} to -1 from the end)",
            )
        resolved.add(position)
    return frozenset(resolved)


@dataclass(frozen=True)
class BlockStyle:
    """How a network's conv blocks are built, read from its params."""

    weight_norm: Normalizer
    feature_norm: Normalizer
    activation: Activation
    negative_slope: float
    dropout: float
    dropout_from: int
    attention: AttentionRef
    attention_at: frozenset[int]

    @classmethod
    def from_params(cls, params: Any, attention_at: frozenset[int]) -> BlockStyle:
        return cls(
            weight_norm=params.weight_norm.build(),
            feature_norm=params.feature_norm.build(),
            activation=params.activation,
            negative_slope=params.negative_slope,
            dropout=params.dropout,
            dropout_from=params.dropout_from,
            attention=params.attention,
            attention_at=attention_at,
        )

    def block(
        self, index: int, conv: nn.Module, out_channels: int, *, normalize: bool = True
    ) -> nn.Sequential:
        """Block number ``index`` of its stack around ``conv`` (which outputs ``out_channels``)."""
        parts: OrderedDict[str, nn.Module] = OrderedDict(conv=self.weight_norm.wrap(conv))
        if normalize:
            parts["norm"] = self.feature_norm.feature(out_channels)
        # in place: it overwrites the conv's or the norm's fresh output, which no backward reads
        parts["act"] = make_activation(self.activation, self.negative_slope, inplace=True)
        if self.dropout > 0 and index >= self.dropout_from:
            parts["drop"] = nn.Dropout(self.dropout)
        if index in self.attention_at:
            parts["attn"] = self.attention.build(channels=out_channels)
        return nn.Sequential(parts)


def mlp(
    widths: list[int],
    slope: float,
    weight_norm: NormalizerRef | None = None,
    *,
    init: Init = "torch",
    dropout: float = 0.0,
    activate_last: bool = False,
) -> nn.Sequential:
    """Linear layers between consecutive ``widths``, initialised as ``init`` says and then each
    weight normalised by ``weight_norm``, with LeakyReLU (and dropout) after each but the last
    (and the last too, ``activate_last``)."""
    layers: list[nn.Module] = []
    count = len(widths) - 1
    for index, (inputs, outputs) in enumerate(zip(widths, widths[1:], strict=False)):
        linear = nn.Linear(inputs, outputs)
        if init == "normal":
            nn.init.normal_(linear.weight, 0.0, INIT_STD)
            nn.init.zeros_(linear.bias)
        layers.append(weight_norm.build().wrap(linear) if weight_norm is not None else linear)
        if index < count - 1 or activate_last:
            layers.append(nn.LeakyReLU(slope))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
