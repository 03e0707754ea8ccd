"""Built-in conditional real/fake heads: projection, AC-GAN and ContraGAN's 2C conditioning.

Each pools the trunk's features to one vector h (B, C) per image, scores it with a
(weight-normalised) linear layer, and uses the judged images' class (:class:`Condition`) in its
own way: inside the score (projection), or through a loss term of its own that each phase adds
(AC-GAN's classifier, ContraGAN's 2C loss). All three sit in ``model.heads.real_fake``, so every
adversarial loss and every gradient penalty uses them unchanged: switching the conditioning is
the one line ``type:`` there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Condition, Dims, Head, Phase, Source
from zsk.core.spec.refs import NormalizerRef
from zsk.plugins.builtin.blocks import spatial_mean, weight_norm_field
from zsk.registry import Component, hookimpl

_WEIGHT = Field(1.0, ge=0, description="weight of the head's own loss term in each phase")


class _PooledHead(Head):
    """Average-pools the trunk's features to h (B, C) and scores h with a linear layer."""

    role = "real_fake"

    class Params(Component.Params):
        weight_norm: NormalizerRef = weight_norm_field()

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.score = self._linear(in_shape[0], 1)

    def _linear(self, inputs: int, outputs: int, bias: bool = True) -> nn.Module:
        return self.params.weight_norm.build().wrap(nn.Linear(inputs, outputs, bias=bias))

    @staticmethod
    def pooled(features: torch.Tensor) -> torch.Tensor:
        return spatial_mean(features)

    def pools_positions(self) -> bool:
        return True

    def forward(self, features: torch.Tensor, condition: Condition) -> torch.Tensor:
        """The real/fake score w·h (a subclass may read ``condition`` here, or in its loss)."""
        return self.score(self.pooled(features)).squeeze(1)


class ProjectionHead(_PooledHead):
    """Projection discriminator: ``D(x, t) = w·h + (V t)·h`` (Miyato & Koyama 2018).

    h is the trunk's average-pooled features and t the judged images' class attributes; V maps
    attributes into feature space, so with one-hot attributes its columns are the paper's
    class embeddings, and an unseen class's attributes get a projection too.
    """

    name = "projection"
    condition = frozenset({"attributes"})

    def __init__(self, params: _PooledHead.Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.embed = self._linear(dims.num_attributes, in_shape[0], bias=False)

    def forward(self, features: torch.Tensor, condition: Condition) -> torch.Tensor:
        h = self.pooled(features)
        return self.score(h).squeeze(1) + (self.embed(condition.attributes) * h).sum(dim=1)


class ACGANHead(_PooledHead):
    """AC-GAN: a real/fake score and a seen-class classifier on h (Odena et al. 2017).

    Its own term is the classifier's cross-entropy against the judged images' classes, times
    ``weight``: in the discriminator phase on real images and (with ``fakes``) on fakes, in the
    generator phase on fakes, which G then makes recognisable as their target class.
    """

    name = "acgan"
    condition = frozenset({"labels"})

    class Params(_PooledHead.Params):
        weight: float = _WEIGHT
        fakes: bool = Field(
            True, description="also train the classifier on fakes in the discriminator phase"
        )

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.classifier = self._linear(in_shape[0], dims.num_seen_classes)

    def auxiliary_sources(self, phase: Phase) -> tuple[Source, ...]:
        if phase == "generator":
            return ("fake",)
        return ("real", "fake") if self.params.fakes else ("real",)

    def auxiliary_loss(
        self, features: torch.Tensor, condition: Condition, phase: Phase, source: Source
    ) -> torch.Tensor:
        logits = self.classifier(self.pooled(features))
        return self.params.weight * F.cross_entropy(logits, condition.labels)


class ContrastiveHead(_PooledHead):
    """ContraGAN's 2C conditioning: images near their class embedding and same-class images.

    A linear map l(h) to the embedding space is compared with e = ψ(t), the semantic encoder's
    embedding of the class attributes, and with the batch's other images (Kang & Park 2020):
    ``−mean_i log [(exp(l̂ᵢ·êᵢ/τ) + Σ_{k≠i, yₖ=yᵢ} exp(l̂ᵢ·l̂ₖ/τ)) / (exp(l̂ᵢ·êᵢ/τ)
    + Σ_{k≠i} exp(l̂ᵢ·l̂ₖ/τ))]`` with unit-length l̂, ê — on real images in the discriminator
    phase and on fakes in the generator phase, times ``weight``.
    """

    name = "contrastive"
    condition = frozenset({"labels", "semantic"})

    class Params(_PooledHead.Params):
        weight: float = _WEIGHT
        temperature: float = Field(1.0, gt=0, description="temperature τ of the 2C loss")

    def __init__(self, params: Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.project = self._linear(in_shape[0], dims.embedding_dim)

    def auxiliary_sources(self, phase: Phase) -> tuple[Source, ...]:
        return ("real",) if phase == "discriminator" else ("fake",)

    def auxiliary_loss(
        self, features: torch.Tensor, condition: Condition, phase: Phase, source: Source
    ) -> torch.Tensor:
        images = F.normalize(self.project(self.pooled(features)), dim=1)
        classes = F.normalize(condition.semantic, dim=1)
        return self.params.weight * conditional_contrastive(
            images, classes, condition.labels, self.params.temperature
        )


def conditional_contrastive(
    images: torch.Tensor, classes: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor:
    """The 2C loss of unit-length image embeddings (B, E) and their classes' (B, E)."""
    to_class = (images * classes).sum(dim=1, keepdim=True) / temperature
    between = images @ images.T / temperature
    others = ~torch.eye(len(images), dtype=torch.bool, device=images.device)
    same = (labels[:, None] == labels[None, :]) & others
    masked = torch.finfo(between.dtype).min
    numerator = torch.logsumexp(torch.cat([to_class, between.masked_fill(~same, masked)], 1), 1)
    denominator = torch.logsumexp(torch.cat([to_class, between.masked_fill(~others, masked)], 1), 1)
    return (denominator - numerator).mean()


@hookimpl
def zsk_register_components(register):
    for cls in (ProjectionHead, ACGANHead, ContrastiveHead):
        register(cls)
