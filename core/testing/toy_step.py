"""A self-contained step context for testing losses, and the contract every loss meets.

:class:`ToyStep` implements :class:`zsk.core.components.interfaces.StepContext` with random leaf
tensors (no networks), and records what a loss reads from it. :func:`check_loss` is the loss
contract that zsk runs on its own losses and that a plugin author runs on theirs::

    from zsk.testing.toy_step import ToyStep, check_loss

    check_loss(MyLoss)                      # default params
    step = ToyStep("generator")             # or build a step and compare with a formula
    value = MyLoss(MyLoss.Params(), dims=step.dims)(step)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from pydantic import BaseModel

from zsk.core.components.interfaces import (
    CLASS_TABLES,
    CLASSES,
    Classes,
    ClassTable,
    Dims,
    Loss,
    Phase,
)
from zsk.core.spec.refs import typed_params
from zsk.registry import UserError
from zsk.testing.errors import ContractError

PHASES: frozenset[str] = frozenset({"discriminator", "generator"})
SOURCES: tuple[str, ...] = ("real", "fake")

#: Small sizes for tests: 16-px RGB images, 6 attributes, 5 seen classes, 8-d embeddings.
TOY_DIMS = Dims(image_size=16, num_attributes=6, num_seen_classes=5, embedding_dim=8, noise_dim=4)

#: Shape (without batch) of the toy reconstruction-feature head's output.
RECONSTRUCTION_FEATURE_SHAPE: tuple[int, ...] = (4, 4, 4)


def _choose(kind: str, which: str, allowed: tuple[str, ...]) -> None:
    if which not in allowed:
        raise UserError(
            f"step.{kind}({which!r}) is not a quantity of the step",
            hint=f"ask for one of: {', '.join(repr(a) for a in allowed)}",
        )


def _head_shapes(
    dims: Dims, patch_size: int | None, extra_heads: Mapping[str, tuple[int, ...]] | None
) -> dict[str, tuple[int, ...]]:
    """Each head role's output shape without batch: the standard roles' and ``extra_heads``."""
    return {
        "real_fake": (1, patch_size, patch_size) if patch_size else (),
        "attribute": (dims.num_attributes,),
        "embedding": (dims.embedding_dim,),
        "reconstruction_feature": RECONSTRUCTION_FEATURE_SHAPE,
        **dict(extra_heads or {}),
    }


class ToyStep:
    """A :class:`~zsk.core.components.interfaces.StepContext` of random leaf tensors, for tests.

    Every float tensor is a leaf with ``requires_grad``, created once and returned on every
    request (as the real step caches). Images are (B, C, S, S) in [-1, 1] (with
    ``dims.feature_dim``: feature vectors (B, feature_dim) in [-1, 1]); head outputs by role:
    ``real_fake`` (B,) or, with ``patch_size``, (B, 1, p, p); ``attribute`` (B, A);
    ``embedding`` (B, E); ``reconstruction_feature`` (B, 4, 4, 4); plus any ``extra_heads``
    (role: shape without batch) for a plugin's own roles. ``score(images)`` is a small
    differentiable function of the images (``tanh`` then a fixed random linear map) unless
    ``score`` replaces it.

    ``read`` maps a name to each tensor a loss has asked for; ``roles_read`` lists the head roles
    it used (``class_logits`` counts as ``embedding``, ``reconstruction`` as
    ``reconstruction_feature`` and ``score`` as ``real_fake``).
    """

    def __init__(
        self,
        phase: Phase = "discriminator",
        *,
        dims: Dims = TOY_DIMS,
        batch_size: int = 4,
        patch_size: int | None = None,
        real_fake_targets: tuple[torch.Tensor, torch.Tensor] | None = None,
        cosine_targets: tuple[float, float] = (1.0, 0.0),
        score: Callable[[torch.Tensor], torch.Tensor] | None = None,
        classifier: bool = True,
        extra_heads: Mapping[str, tuple[int, ...]] | None = None,
        seed: int = 0,
    ):
        if phase not in PHASES:
            raise UserError(f"ToyStep phase {phase!r} is not one of {sorted(PHASES)}")
        self.phase: Phase = phase
        self.dims = dims
        self.batch_size = batch_size
        self.patch_size = patch_size
        self.read: dict[str, torch.Tensor] = {}
        self.roles_read: set[str] = set()
        self._generator = torch.Generator().manual_seed(seed)
        self._classifier = classifier

        image_shape = dims.sample_shape
        self._images = {source: self._uniform(image_shape, -1.0, 1.0) for source in SOURCES}
        self._reconstruction = self._uniform(image_shape, -1.0, 1.0)
        self._heads = {
            (role, source): self._normal(shape)
            for role, shape in _head_shapes(dims, patch_size, extra_heads).items()
            for source in SOURCES
        }
        self._semantic = {name: self._normal((dims.embedding_dim,)) for name in CLASSES}
        self._attributes = {
            name: self._uniform((dims.num_attributes,), 0.0, 1.0) for name in CLASSES
        }
        self._semantic["seen"] = self._normal_leaf((dims.num_seen_classes, dims.embedding_dim))
        self._attributes["seen"] = torch.rand(
            (dims.num_seen_classes, dims.num_attributes), generator=self._generator
        ).requires_grad_(True)
        self._labels = self._draw_labels()
        self._class_logits = {source: self._normal((dims.num_seen_classes,)) for source in SOURCES}
        if real_fake_targets is None:
            real_fake_targets = (torch.ones(batch_size), torch.zeros(batch_size))
        self._real_fake_targets = real_fake_targets
        self._cosine_targets = cosine_targets
        self._score_weight = self._normal_leaf(
            (math.prod(image_shape), (patch_size or 1) ** 2), scale=0.05
        )
        self._score = score if score is not None else self._default_score

    def _draw_labels(self) -> dict[str, torch.Tensor]:
        """Seen-class labels of each :data:`CLASSES`; "other" differs from "own" per image."""
        seen, batch = self.dims.num_seen_classes, self.batch_size
        labels = {
            name: torch.randint(seen, (batch,), generator=self._generator) for name in CLASSES
        }
        if seen > 1:
            shift = 1 + torch.randint(seen - 1, (batch,), generator=self._generator)
            labels["other"] = (labels["own"] + shift) % seen
        return labels

    @property
    def roles(self) -> frozenset[str]:
        """The head roles this step provides."""
        return frozenset(role for role, _ in self._heads)

    # -- the StepContext protocol ---------------------------------------------------------------

    def real(self) -> torch.Tensor:
        return self._record("real", self._images["real"])

    def fake(self) -> torch.Tensor:
        return self._record("fake", self._images["fake"])

    def head(self, role: str, source: str) -> torch.Tensor:
        _choose("head", source, SOURCES)
        if (role, source) not in self._heads:
            raise UserError(
                f"ToyStep has no head of role '{role}'",
                hint=f"it has {', '.join(sorted(self.roles))}; pass extra_heads={{role: shape}}",
            )
        self.roles_read.add(role)
        return self._record(f"head({role}, {source})", self._heads[(role, source)])

    def class_logits(self, source: str) -> torch.Tensor:
        _choose("class_logits", source, SOURCES)
        self.roles_read.add("embedding")
        if not self._classifier:
            raise UserError(
                "the embedding head has no seen-class classifier",
                hint="choose an embedding head with a classifier, or drop the softmax term",
            )
        return self._record(f"class_logits({source})", self._class_logits[source])

    def semantic(self, which: ClassTable) -> torch.Tensor:
        _choose("semantic", which, CLASS_TABLES)
        return self._record(f"semantic({which})", self._semantic[which])

    def attributes(self, which: ClassTable) -> torch.Tensor:
        _choose("attributes", which, CLASS_TABLES)
        return self._record(f"attributes({which})", self._attributes[which])

    def labels(self, which: Classes) -> torch.Tensor:
        _choose("labels", which, CLASSES)
        return self._labels[which]

    def reconstruction(self) -> torch.Tensor:
        self.roles_read.add("reconstruction_feature")
        return self._record("reconstruction", self._reconstruction)

    def real_fake_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._real_fake_targets

    def cosine_targets(self) -> tuple[float, float]:
        return self._cosine_targets

    def score(
        self, images: torch.Tensor, which: Classes = "own", role: str = "real_fake"
    ) -> torch.Tensor:
        _choose("score", which, CLASSES)
        self.roles_read.add(role)
        return self._score(images)

    # -- helpers ----------------------------------------------------------------------------------

    def _default_score(self, images: torch.Tensor) -> torch.Tensor:
        self._record("score weight", self._score_weight)
        scores = torch.tanh(images).flatten(1) @ self._score_weight
        if self.patch_size:
            return scores.reshape(-1, 1, self.patch_size, self.patch_size)
        return scores.squeeze(1)

    def _record(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        self.read[name] = tensor
        return tensor

    def _uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        values = torch.rand((self.batch_size, *shape), generator=self._generator)
        return (low + (high - low) * values).requires_grad_(True)

    def _normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self._normal_leaf((self.batch_size, *shape))

    def _normal_leaf(self, shape: tuple[int, ...], scale: float = 1.0) -> torch.Tensor:
        return (scale * torch.randn(shape, generator=self._generator)).requires_grad_(True)


def _build_params(cls: type[Loss], params: Any) -> BaseModel:
    return typed_params(cls, params)


def check_loss(
    cls: type[Loss],
    params: BaseModel | Mapping[str, Any] | None = None,
    dims: Dims | None = None,
    *,
    extra_heads: Mapping[str, tuple[int, ...]] | None = None,
) -> None:
    """Check that a loss class meets the loss contract; raise ContractError saying how not.

    For each phase in ``cls.phases``, with per-image and with patch-shaped real/fake scores:
    the loss (built with ``params``, default ones when None) returns a finite 0-dim tensor
    on a :class:`ToyStep`; gradient reaches at least one tensor it read; a loss that scores
    images with ``step.score`` (a gradient penalty) passes gradient to the critic's weights (so
    it was computed with ``create_graph=True``); it reads only head roles it lists in
    ``requires``, and ToyStep provides every role it requires (a plugin's own roles via
    ``extra_heads``, role: shape without batch). Before the first step the loss is prepared
    (:meth:`Loss.prepare`) on a toy step's real samples, as training prepares it.
    """
    label = f"loss '{cls.name}' ({cls.__module__}.{cls.__qualname__})"
    if not (cls.phases and cls.phases <= PHASES):
        raise ContractError(
            f"{label}: phases {sorted(cls.phases)} must be a non-empty subset of {sorted(PHASES)}"
        )
    dims = dims or TOY_DIMS
    loss = cls(_build_params(cls, params), dims=dims)
    _check_untrained(loss, label)
    toy = ToyStep("discriminator", dims=dims, batch_size=8)
    loss.prepare(toy.real().detach(), toy.labels("own"))
    for phase in sorted(cls.phases):
        for patch_size in (None, 2):
            step = ToyStep(phase, dims=dims, patch_size=patch_size, extra_heads=extra_heads)
            shape = "(B, 1, 2, 2)" if patch_size else "(B,)"
            _check_on_step(loss, step, label, f"{label}, {phase} phase, real/fake scores {shape}")
    for phase in sorted(cls.phases):
        value = loss(ToyStep(phase, dims=dims, batch_size=1, extra_heads=extra_heads))
        if not torch.isfinite(value).all():
            raise ContractError(
                f"{label}, {phase} phase: loss is {value.item()} at batch size 1 (a statistic "
                "over the batch, such as a standard deviation, is undefined for one sample)"
            )


def _check_untrained(loss: Loss, label: str) -> None:
    """A loss has no trainable parameters: nothing would step them."""
    trainable = [name for name, p in loss.named_parameters() if p.requires_grad]
    if trainable:
        raise ContractError(
            f"{label}: has trainable parameters ({', '.join(trainable)}), which no optimiser "
            "steps: zsk optimises the networks, not the losses; keep learned parts in a head "
            "(a head may add its own loss term) or freeze them as buffers"
        )


def _check_on_step(loss: Loss, step: ToyStep, label: str, where: str) -> None:
    """On one toy step: the head roles the loss reads are the ones it requires, and its value
    is a finite scalar whose gradient reaches what it read (:func:`_check_gradients`)."""
    cls = type(loss)
    missing = cls.requires - step.roles
    if missing:
        raise ContractError(
            f"{label} requires head roles {sorted(missing)} that ToyStep does not provide; "
            "pass extra_heads={role: shape} to check_loss"
        )
    value = loss(step)
    if not (isinstance(value, torch.Tensor) and value.dim() == 0):
        raise ContractError(f"{where}: forward must return a 0-dim tensor, got {value!r:.80}")
    if not torch.isfinite(value):
        raise ContractError(f"{where}: loss is {value.item()}")
    undeclared = step.roles_read - cls.requires
    if undeclared:
        raise ContractError(
            f"{where}: reads head roles {sorted(undeclared)} not listed in `requires` "
            f"{sorted(cls.requires)}; add them so the composer can check a spec's heads"
        )
    _check_gradients(value, step, where)


def _check_gradients(value: torch.Tensor, step: ToyStep, where: str) -> None:
    """Finite gradient reaches something the loss read, and the critic's weights when it
    scored images (a gradient penalty keeps its input gradient's graph)."""
    if not value.requires_grad:
        raise ContractError(f"{where}: the loss does not depend on anything it read")
    names = list(step.read)
    grads = torch.autograd.grad(value, list(step.read.values()), allow_unused=True)
    reached = {name: g for name, g in zip(names, grads, strict=True) if g is not None}
    if not reached:
        raise ContractError(f"{where}: no gradient reaches what it read ({', '.join(names)})")
    for name, grad in reached.items():
        if not torch.isfinite(grad).all():
            raise ContractError(f"{where}: gradient on {name} is not finite")
    if "score weight" in step.read:
        critic = reached.get("score weight")
        if not (critic is not None and critic.abs().sum() > 0):
            raise ContractError(
                f"{where}: no gradient reaches the critic's weights through step.score; a "
                "gradient penalty must keep the graph of its input gradient "
                "(torch.autograd.grad(..., create_graph=True))"
            )
