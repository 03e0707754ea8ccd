"""One training step as data: the batch a step draws, and the lazy context the loss terms read.

The trainer's step (:mod:`zsk.core.train.loop`) and the composer's dry pass
(:mod:`zsk.core.build.dry_pass`) both drive the networks through this context, so a head, a
condition or an auxiliary term is wired in one place. A phase's loss is its objective's
weighted terms and the heads' own terms the objective declares (:func:`evaluate_terms`).

:class:`PhaseContext` implements :class:`zsk.core.components.interfaces.StepContext`. Every quantity
is computed on first request and cached, so a phase computes only what its terms ask for, each
once. The fakes are shared by the discriminator phase (which sees them detached) and the
generator phase that follows on the same batch, so G runs forward once per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from zsk.core.build.model import GAN, Objective, WeightedTerm
from zsk.core.components.interfaces import (
    CLASS_TABLES,
    CLASSES,
    Classes,
    ClassTable,
    Condition,
    EmbeddingHead,
    Head,
    Phase,
    Source,
    second_order,
)
from zsk.core.spec.sections import LabelSmoothingSpec
from zsk.registry import UserError

#: Whose class a conditional head is told for each source: real images their own, fakes theirs.
CONDITION_OF_SOURCE: dict[str, Classes] = {"real": "own", "fake": "target"}


@dataclass
class Batch:
    """The real images of one step and everything drawn for them."""

    real: torch.Tensor
    own: torch.Tensor  # seen-class indices of the real images
    other: torch.Tensor  # another seen class per image
    target: torch.Tensor  # the class each fake is made for
    noise: torch.Tensor | None
    class_attributes: torch.Tensor  # (num_seen, num_attributes)

    def with_fresh_noise(self) -> Batch:
        """This batch with new generator noise (same images, classes and targets): the
        generator step's own draw under ``train.generator_noise: fresh``."""
        if self.noise is None:
            return self
        return replace(self, noise=torch.randn_like(self.noise))


def draw_batch(
    real: torch.Tensor,
    own: torch.Tensor,
    class_attributes: torch.Tensor,
    *,
    negative_fraction: float,
    noise_dim: int,
) -> Batch:
    """Other classes, targets (own with probability 1 − negative_fraction: positive samples;
    else the other class: negative samples) and generator noise, all drawn on the device."""
    num_classes = class_attributes.shape[0]
    offset = torch.randint(1, max(num_classes, 2), own.shape, device=own.device)
    other = (own + offset) % num_classes
    negative = torch.rand(own.shape, device=own.device) < negative_fraction
    target = torch.where(negative, other, own)
    noise = None
    if noise_dim > 0:
        noise = torch.randn(own.shape[0], noise_dim, device=real.device)
    return Batch(real, own, other, target, noise, class_attributes)


@dataclass
class Regularizers:
    """The tricks that keep D from getting too smart, at this step's levels."""

    smoothing: LabelSmoothingSpec | None = None
    flip_real_fake: float = 0.0
    flip_cosine: float = 0.0
    noise_std: float = 0.0


class FakeImages:
    """The generator's images for one batch, made once and shared by both phases.

    ``keep_graph`` is True when a generator phase will use them (they carry G's graph);
    otherwise they are made without one, which saves memory on extra critic steps.
    """

    def __init__(self, gan: GAN, batch: Batch, keep_graph: bool):
        self._gan, self._batch, self._keep_graph = gan, batch, keep_graph
        self._images: torch.Tensor | None = None

    def get(self) -> torch.Tensor:
        if self._images is None:
            batch, generator = self._batch, self._gan.generator
            attributes = batch.class_attributes[batch.target]
            with torch.set_grad_enabled(self._keep_graph and torch.is_grad_enabled()):
                source = batch.real if generator.source_images != "unused" else None
                self._images = generator(attributes, images=source, noise=batch.noise)
        return self._images


@dataclass
class PhaseContext:
    """What the loss terms of one phase read; see
    :class:`zsk.core.components.interfaces.StepContext`.
    """

    phase: Phase
    gan: GAN
    batch: Batch
    fakes: FakeImages
    regularizers: Regularizers = field(default_factory=Regularizers)
    current_term: str = ""
    _cache: dict[tuple, object] = field(default_factory=dict)

    def _cached(self, key: tuple, compute: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # images ---------------------------------------------------------------------------------
    def real(self) -> torch.Tensor:
        return self.batch.real

    def fake(self) -> torch.Tensor:
        images = self.fakes.get()
        return images.detach() if self.phase == "discriminator" else images

    def _noisy(self, images: torch.Tensor) -> torch.Tensor:
        std = self.regularizers.noise_std
        return images + std * torch.randn_like(images) if std > 0 else images

    def features(self, source: Source) -> torch.Tensor:
        """The trunk's features of the real or the fake images (instance noise added)."""
        if source not in ("real", "fake"):
            raise UserError(
                f"loss '{self.current_term}' asked for source '{source}'",
                hint="sources are 'real' and 'fake'",
            )
        images = self.real() if source == "real" else self.fake()
        return self._cached(
            ("trunk", source), lambda: self.gan.discriminator.trunk(self._noisy(images))
        )

    # discriminator outputs ------------------------------------------------------------------
    def _head_module(self, role: str):
        heads = self.gan.discriminator.heads
        if role not in heads:
            raise UserError(
                f"objective term '{self.current_term}' needs a '{role}' head, but model.heads "
                f"has only: {', '.join(heads) or '(none)'}",
                hint=f"add model.heads.{role} to the spec, or remove the term from the objective",
            )
        return heads[role]

    def _condition(self, head: Head, which: Classes) -> Condition | None:
        """What a conditional ``head`` is told about images of the ``which`` classes."""
        if not head.condition:
            return None
        semantic = self.semantic(which) if "semantic" in head.condition else None
        return Condition(self.attributes(which), self.labels(which), semantic)

    def head(self, role: str, source: Source) -> torch.Tensor:
        module = self._head_module(role)

        def judge() -> torch.Tensor:
            pools = module.pools_positions()
            features = self.mean_features(source) if pools else self.features(source)
            return module.judge(features, self._condition(module, CONDITION_OF_SOURCE[source]))

        return self._cached(("head", role, source), judge)

    def mean_features(self, source: Source) -> torch.Tensor:
        """The trunk's features averaged over positions, (B, C, 1, 1), once for every head that
        pools (``Head.pools_positions``): their gradients then add up on the mean and reach the
        trunk as one broadcast, where each head's own mean made them a dense sum of full maps,
        a slower gradient for the trunk's backward (channels_last convolutions among others)."""

        def mean() -> torch.Tensor:
            features = self.features(source)
            return features.sum(dim=(2, 3), keepdim=True) / (features.shape[2] * features.shape[3])

        return self._cached(("mean_features", source), mean)

    def optional_class_logits(self, source: Source) -> torch.Tensor | None:
        """Seen-class logits of the embedding head's classifier; None when it has none."""
        module = self._head_module("embedding")
        if not isinstance(module, EmbeddingHead):
            return None
        return self._cached(
            ("logits", source), lambda: module.class_logits(self.head("embedding", source))
        )

    def class_logits(self, source: Source) -> torch.Tensor:
        logits = self.optional_class_logits(source)
        if logits is None:
            module = self._head_module("embedding")
            raise UserError(
                f"objective term '{self.current_term}' needs seen-class logits, but the embedding "
                f"head '{getattr(module, 'name', type(module).__name__)}' has no classifier",
                hint="give the embedding head a classifier, or set the term's softmax weight to 0",
            )
        return logits

    def score(
        self, images: torch.Tensor, which: Classes = "own", role: str = "real_fake"
    ) -> torch.Tensor:
        module = self._head_module(role)
        with second_order():
            features = self.gan.discriminator.trunk(self._noisy(images))
            return module.judge(features, self._condition(module, which))

    def auxiliary_loss(self, role: str, source: Source) -> torch.Tensor | None:
        """The ``role`` head's own term (:meth:`Head.auxiliary_loss`) on the ``source`` images'
        features, in this phase; None when the head adds none."""
        module = self._head_module(role)
        condition = self._condition(module, CONDITION_OF_SOURCE[source])
        return module.auxiliary_loss(self.features(source), condition, self.phase, source)

    def reconstruction(self) -> torch.Tensor:
        module = self._head_module("reconstruction_feature")
        return self._cached(
            ("reconstruction",),
            lambda: self.gan.generator.decode_features(module(self.features("real"))),
        )

    # attributes and their embeddings --------------------------------------------------------
    def labels(self, which: Classes) -> torch.Tensor:
        if which not in CLASSES:
            raise UserError(
                f"loss '{self.current_term}' asked for labels {which!r}",
                hint=f"choose one of {', '.join(CLASSES)}",
            )
        return getattr(self.batch, which)

    def attributes(self, which: ClassTable) -> torch.Tensor:
        if which == "seen":  # every seen class once, in label order
            return self.batch.class_attributes
        if which not in CLASSES:
            raise UserError(
                f"loss '{self.current_term}' asked for attributes {which!r}",
                hint=f"choose one of {', '.join(CLASS_TABLES)}",
            )
        return self.batch.class_attributes[self.labels(which)]

    def semantic(self, which: ClassTable) -> torch.Tensor:
        attributes = self.attributes(which)
        return self._cached(("semantic", which), lambda: self.gan.semantic_encoder(attributes))

    # targets --------------------------------------------------------------------------------
    def real_fake_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._cached(("rf_targets",), self._draw_real_fake_targets)

    def _draw_real_fake_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        size, device = self.batch.own.shape[0], self.batch.real.device
        smoothing = self.regularizers.smoothing
        if smoothing is None:
            real, fake = torch.ones(size, device=device), torch.zeros(size, device=device)
        else:
            real = torch.empty(size, device=device).uniform_(*smoothing.real)
            fake = torch.empty(size, device=device).uniform_(*smoothing.fake)
        if _coin(self.regularizers.flip_real_fake):
            real, fake = fake, real
        return real, fake

    def cosine_targets(self) -> tuple[float, float]:
        return self._cached(
            ("cos_targets",),
            lambda: (0.0, 1.0) if _coin(self.regularizers.flip_cosine) else (1.0, 0.0),
        )


def _coin(probability: float) -> bool:
    """A per-batch decision drawn on the CPU generator (no device synchronisation)."""
    return probability > 0 and float(torch.rand(())) < probability


@dataclass
class PhaseResult:
    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def evaluate_terms(ctx: PhaseContext, objective: Objective) -> PhaseResult:
    """The loss of ``ctx``'s phase: the weighted sum of the objective's terms for the phase, plus
    the heads' own terms it declares (weight 1); and each term's unweighted value (fp32), a
    head's terms summed over their sources under one name."""
    values: dict[str, torch.Tensor] = {}
    total = torch.zeros((), device=ctx.batch.real.device)
    weighted: list[WeightedTerm] = getattr(objective, ctx.phase)
    for term in weighted:
        ctx.current_term = term.name
        value = term.loss(ctx).float()
        values[term.name] = value
        total = total + term.weight * value
    for auxiliary in objective.auxiliary[ctx.phase]:
        ctx.current_term = auxiliary.name
        value = ctx.auxiliary_loss(auxiliary.role, auxiliary.source)
        if value is None:
            continue
        value = value.float()
        name = auxiliary.name
        values[name] = values[name] + value if name in values else value
        total = total + value
    return PhaseResult(total, values)
