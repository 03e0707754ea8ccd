"""Pixelwise feature normalisation (Karras et al. 2018, progressive GANs)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from zsk.api import Component, Normalizer


class PixelNormLayer(nn.Module):
    """Scale each position's feature vector to unit root-mean-square over the channels."""

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class PixelNorm(Normalizer):
    """Pixel normalisation of feature maps: unit RMS over channels at every position.

    ``x / sqrt(mean_c(x²) + eps)`` for each image and position. No statistics over the batch
    and no learned parameters, so it behaves the same in training and evaluation.
    """

    name = "pixel"
    roles = frozenset({"feature"})

    class Params(Component.Params):
        eps: float = Field(1e-8, gt=0, description="added to the mean square before the root")

    params: Params  # what zsk hands the constructor: this component's own Params

    def feature(self, num_features: int) -> nn.Module:
        return PixelNormLayer(self.params.eps)
