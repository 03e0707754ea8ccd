"""An exponential moving average of the generator's weights, for sampling and evaluation."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """Keeps ``shadow`` = decay·shadow + (1 − decay)·model after every update.

    Floating-point parameters are averaged; buffers (spectral-norm vectors, batch-norm
    statistics, counters) are copied, since averaging power-iteration vectors or counters means
    nothing. The shadow never receives gradients and stays in eval mode.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        shadow_params = list(self.shadow.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(shadow_params, params, 1.0 - self.decay)
        for shadow_buffer, buffer in zip(self.shadow.buffers(), model.buffers(), strict=True):
            shadow_buffer.copy_(buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow.load_state_dict(state)
