"""Built-in attention: SAGAN self-attention (Zhang et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Attention, second_order_needed
from zsk.core.spec.refs import NormalizerRef
from zsk.plugins.builtin.blocks import weight_norm_field
from zsk.registry import Component, hookimpl


class SelfAttention(Attention):
    """SAGAN self-attention: every position attends to all others, added as γ·(h·β) + x.

    ``f = W_f x`` and ``g = W_g x`` have C/reduction channels (at least 1), ``h = W_h x`` has C;
    ``β = softmax(fᵀg)`` over the attended positions i for each output position j, and
    ``o_j = Σ_i β_ij h_i``. γ is learned and starts at 0, so the block starts as the identity.
    The paper's notebook computed ``γ·o + x`` and then returned ``x``, so its attention never
    acted; here the sum is returned. Computed with ``scaled_dot_product_attention`` (scale 1),
    which picks a memory-efficient kernel where one exists; on the CPU, f and g are zero-padded
    to h's width so that the fused kernel applies: no 4096×4096 score matrices at 128 px, where
    they would dominate a training step's activation memory (BENCHMARKS.md §2). Fused
    kernels have no double backward, so inside :func:`zsk.core.components.interfaces.second_order`
    (a gradient penalty's pass) the scores are computed as plain ``softmax(qᵀk)·v`` instead.
    """

    name = "sagan"

    class Params(Component.Params):
        reduction: int = Field(8, ge=1, description="f and g have channels // reduction channels")
        weight_norm: NormalizerRef = weight_norm_field()

    def __init__(self, params: Component.Params, *, channels: int):
        super().__init__(params, channels=channels)
        inner = max(1, channels // params.reduction)
        norm = params.weight_norm.build()
        self.f = norm.wrap(nn.Conv2d(channels, inner, 1))
        self.g = norm.wrap(nn.Conv2d(channels, inner, 1))
        self.h = norm.wrap(nn.Conv2d(channels, channels, 1))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape

        def positions(maps: torch.Tensor) -> torch.Tensor:  # (B, K, H, W) -> (B, 1, N, K)
            return maps.flatten(2).transpose(1, 2).unsqueeze(1)

        keys, queries, values = positions(self.f(x)), positions(self.g(x)), positions(self.h(x))
        if second_order_needed():
            weights = torch.softmax(queries @ keys.transpose(-1, -2), dim=-1)
            attended = weights @ values
        else:
            attended = self._fused(queries, keys, values, x.device.type == "cpu")
        out = attended.squeeze(1).transpose(1, 2).reshape(batch, channels, height, width)
        return x + self.gamma * out

    @staticmethod
    def _fused(
        queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, on_cpu: bool
    ) -> torch.Tensor:
        """``scaled_dot_product_attention`` with scale 1, in a form the fused kernel takes."""
        if on_cpu:
            # The CPU's fused kernel (no N×N score matrix) needs one width for queries, keys
            # and values, and contiguous rows; zero-padding f and g leaves every f·g unchanged.
            pad = values.shape[-1] - keys.shape[-1]
            keys, queries = F.pad(keys, (0, pad)), F.pad(queries, (0, pad))
            values = values.contiguous()
        return F.scaled_dot_product_attention(queries, keys, values, scale=1.0)


@hookimpl
def zsk_register_components(register):
    register(SelfAttention)
