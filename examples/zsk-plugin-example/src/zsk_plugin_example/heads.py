"""Two real/fake heads: a projection discriminator and a plain WGAN-GP critic."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from zsk.api import Condition, Dims, Head, NormalizerRef


class AttributeProjection(Head):
    """Projection discriminator on attributes: ``D(x, t) = w·h + (V t)·h`` (Miyato & Koyama 2018).

    h is the trunk's features averaged over positions and t the class attributes of the judged
    images (their own for real images, the target for fakes), which zsk hands a head that lists
    ``"attributes"`` in ``condition``. V maps attributes into feature space, so a class never
    seen in training has a projection too. Both maps are spectrally normalised by default.
    """

    name = "attribute_projection"
    role = "real_fake"
    condition = frozenset({"attributes"})

    class Params(Head.Params):
        weight_norm: NormalizerRef = Field(
            default_factory=lambda: NormalizerRef(type="spectral"),
            description="normaliser of w and V (weight role), e.g. spectral or none",
        )

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        norm = params.weight_norm.build()
        self.score = norm.wrap(nn.Linear(in_shape[0], 1))
        self.embed = norm.wrap(nn.Linear(dims.num_attributes, in_shape[0], bias=False))

    def forward(self, features: torch.Tensor, condition: Condition) -> torch.Tensor:
        h = features.mean(dim=(2, 3))
        return self.score(h).squeeze(1) + (self.embed(condition.attributes) * h).sum(dim=1)


class LinearCritic(Head):
    """A WGAN critic's output: one unbounded, unnormalised linear score of the pooled features.

    Gulrajani et al. (2017) keep the critic free of batch statistics and weight normalisation
    and let the gradient penalty bound it: ``c(x) = w·h + b`` with h the trunk's features
    averaged over positions.
    """

    name = "linear_critic"
    role = "real_fake"

    def __init__(self, params: Head.Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.score = nn.Linear(in_shape[0], 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.score(features.mean(dim=(2, 3))).squeeze(1)
