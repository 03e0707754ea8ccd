"""Built-in semantic encoders ψ: class attributes to the shared embedding space."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Dims, SemanticEncoder
from zsk.plugins.builtin.blocks import mlp
from zsk.registry import Component, UserError, hookimpl


class MlpEncoder(SemanticEncoder):
    """An MLP with LeakyReLU and dropout (notebook: A→128→192→256, slope 0.2, dropout 0.25)."""

    name = "mlp"

    class Params(Component.Params):
        hidden: list[int] = Field(
            default_factory=lambda: [128, 192], description="widths of the hidden layers"
        )
        negative_slope: float = Field(0.2, ge=0, description="LeakyReLU slope for x < 0")
        dropout: float = Field(0.25, ge=0, lt=1, description="dropout after each hidden layer")

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        self.net = mlp(
            [dims.num_attributes, *params.hidden, dims.embedding_dim],
            params.negative_slope,
            dropout=params.dropout,
        )

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        return self.net(attributes)


class LinearEncoder(SemanticEncoder):
    """One linear map from attributes to the embedding (ALE-style compatibility)."""

    name = "linear"

    class Params(Component.Params):
        bias: bool = Field(True, description="learn an additive bias")

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        self.linear = nn.Linear(dims.num_attributes, dims.embedding_dim, bias=params.bias)

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        return self.linear(attributes)


class IdentityEncoder(SemanticEncoder):
    """The attributes themselves as the embedding (needs embedding_dim == num_attributes)."""

    name = "identity"

    class Params(Component.Params):
        pass

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        if dims.num_attributes != dims.embedding_dim:
            raise UserError(
                f"semantic encoder 'identity' passes the {dims.num_attributes} attributes "
                f"through unchanged, but embedding_dim is {dims.embedding_dim}",
                hint=f"set model.embedding_dim: {dims.num_attributes}, or use the 'linear' or "
                "'mlp' semantic encoder",
            )

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        return attributes


@hookimpl
def zsk_register_components(register):
    register(MlpEncoder)
    register(LinearEncoder)
    register(IdentityEncoder)
