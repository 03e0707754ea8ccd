"""The base class of every component kind, and the step context that losses read from.

These classes are the plugin API (version :data:`zsk.registry.PLUGIN_API_VERSION`). The composer
builds every network from them and names no concrete component; a plugin subclasses one, sets
``name``, a nested ``Params`` model and a docstring, and registers it.

Construction: ``params`` (the component's validated ``Params``) first, then the kind's inputs as
keyword-only arguments; each kind's reference type builds it (``zsk.api.TrunkRef.build(dims=...)
-> Trunk``), so a type checker checks both sides:

=================  ==============================================================
kind               constructor
=================  ==============================================================
generator          ``(params, *, dims, feature_shape)``; ``feature_shape`` is the
                   shape (without batch) of the reconstruction-feature head's output,
                   or ``None`` when the spec has no such head
trunk              ``(params, *, dims)``
head               ``(params, *, dims, in_shape)``; ``in_shape`` is the trunk's (C, H, W)
semantic_encoder   ``(params, *, dims)``
loss               ``(params, *, dims)``
normalizer         ``(params)``
attention          ``(params, *, channels)``
dataset            ``(params)``
metric             ``(params)``
=================  ==============================================================
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

import torch
from torch import nn

from zsk.core.components.dims import Dims
from zsk.registry import Component, UserError, declare_kinds

if TYPE_CHECKING:
    from zsk.core.components.metric_inputs import MetricInputs
    from zsk.core.components.zsl_data import ZslData

Phase = Literal["discriminator", "generator"]
#: How a generator's ``forward`` uses a source image (:attr:`Generator.source_images`).
SourceImages = Literal["unused", "required", "optional"]
Source = Literal["real", "fake"]
#: Whose classes a step quantity is about: ``"own"`` — each real image's class; ``"other"`` —
#: another seen class drawn per sample; ``"target"`` — the class each fake was made for.
Classes = Literal["own", "other", "target"]
CLASSES: tuple[Classes, ...] = ("own", "other", "target")
#: What ``attributes`` and ``semantic`` take: a :data:`Classes`, or ``"seen"`` — every seen
#: class once, row c for label c.
ClassTable = Literal["own", "other", "target", "seen"]
CLASS_TABLES: tuple[ClassTable, ...] = (*CLASSES, "seen")


_SECOND_ORDER = contextvars.ContextVar("zsk_second_order", default=False)


@contextlib.contextmanager
def second_order() -> Iterator[None]:
    """Within this block, networks must build graphs that can be differentiated twice.

    A gradient penalty differentiates the critic's gradient with respect to its input again
    (``create_graph=True``). Fused kernels such as the CPU's flash attention have no double
    backward, so a component that uses one asks :func:`second_order_needed` and takes a plain,
    differentiable path inside this block. ``step.score`` opens it for every penalty.
    """
    token = _SECOND_ORDER.set(True)
    try:
        yield
    finally:
        _SECOND_ORDER.reset(token)


def second_order_needed() -> bool:
    """Whether the forward pass running now must be differentiable twice (:func:`second_order`)."""
    return _SECOND_ORDER.get()


#: What a conditional head may take besides the trunk's features (``Head.condition``).
CONDITION_PARTS: frozenset[str] = frozenset({"attributes", "labels", "semantic"})


@dataclass(frozen=True)
class Condition:
    """The class each judged image is of (real images) or was made for (fakes).

    ``attributes`` (B, num_attributes) and ``labels`` (B,) seen-class indices are always set;
    ``semantic`` is ψ(attributes) (B, embedding_dim), set only for a head that asks for it (it
    costs a pass through the semantic encoder, which then trains with the discriminator).
    """

    attributes: torch.Tensor
    labels: torch.Tensor
    semantic: torch.Tensor | None = None


class Normalizer(Component):
    """Base of normalisers: a *weight* normaliser wraps a layer (``wrap``, e.g. spectral norm of
    a conv kernel), a *feature* normaliser makes a normalisation layer for a number of channels
    (``feature``, e.g. batch or instance norm). ``roles`` says which of the two it can play; a
    block asks for the role it needs, and asking for one it cannot play is a user error.
    """

    kind = "normalizer"
    roles: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Component.Params):
        self.params = params

    def wrap(self, layer: nn.Module) -> nn.Module:
        """Return ``layer`` with its weight normalised (weight role)."""
        raise UserError(
            f"normalizer '{self.name}' cannot normalise weights; it is a feature normaliser",
            hint="use it as a feature normaliser, or choose 'spectral' or 'none' for weights",
        )

    def feature(self, num_features: int) -> nn.Module:
        """Return a layer normalising ``num_features``-channel feature maps (feature role)."""
        raise UserError(
            f"normalizer '{self.name}' cannot normalise features; it is a weight normaliser",
            hint="use it as a weight normaliser, or choose 'batch', 'instance' or 'none'",
        )


class Attention(Component, nn.Module):
    """Base of attention blocks: ``forward(x)`` returns a tensor of the same shape as ``x``."""

    kind = "attention"

    def __init__(self, params: Component.Params, *, channels: int):
        nn.Module.__init__(self)
        self.params, self.channels = params, channels


class _SizedNetwork(Component, nn.Module):
    """A network built for the spec's sizes: it keeps its ``params`` and the :class:`Dims`."""

    def __init__(self, params: Component.Params, *, dims: Dims):
        nn.Module.__init__(self)
        self.params, self.dims = params, dims


class Generator(_SizedNetwork, abc.ABC):
    """Base of generators: images from target attributes (and a source image, and/or noise).

    ``source_images`` says how ``forward`` uses a source image: ``"unused"`` — it draws from
    attributes and noise (the notebook's decoder); ``"required"`` — it translates a source image
    (the report's encoder-decoder); ``"optional"`` — it translates one and can also imagine from
    attributes (and noise) alone. Training gives it real images as sources unless ``"unused"``;
    evaluation and sample grids imagine without a source unless ``"required"``, so what G shows
    for a class is not borrowed from the picture it started from. Either way
    ``decode_features`` maps the discriminator's reconstruction features back to an image, the
    report's reconstruction path ``G(D_enc(x))``.
    """

    kind = "generator"
    source_images: SourceImages = "unused"

    @property
    def takes_noise(self) -> bool:
        """Whether ``forward``'s images depend on ``noise`` (the contract checks that they do)."""
        return self.source_images == "unused"

    def __init__(
        self,
        params: Component.Params,
        *,
        dims: Dims,
        feature_shape: tuple[int, ...] | None = None,
    ):
        super().__init__(params, dims=dims)
        self.feature_shape = feature_shape

    @abc.abstractmethod
    def forward(
        self,
        attributes: torch.Tensor,
        images: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] (B, channels, image_size, image_size), or (B, feature_dim)."""

    @abc.abstractmethod
    def decode_features(self, features: torch.Tensor) -> torch.Tensor:
        """An image reconstructed from reconstruction-feature head output."""


class Trunk(_SizedNetwork):
    """Base of discriminator trunks: ``forward(x)`` gives (B, C, H, W), (B, C, 1, 1) on vectors."""

    kind = "trunk"

    def describe(self) -> str:
        """How the trunk reaches its output size, for wiring errors ("with 5 stride-2 blocks")."""
        return ""


class Head(_SizedNetwork):
    """Base of discriminator heads. ``role`` says what the head's output means.

    Standard roles (:data:`ROLES`): ``real_fake`` (a score per image or patch),
    ``attribute`` (B, num_attributes), ``embedding`` (B, embedding_dim), and
    ``reconstruction_feature`` (whatever the generator decodes from).

    A *conditional* head lists in ``condition`` what it takes besides the features (a subset of
    :data:`CONDITION_PARTS`); it is called ``forward(features, condition)`` with a
    :class:`Condition` for the judged images: their own class for real images, the class each
    fake was made for. Projection discriminators read the condition in ``forward``; a head may
    also add its own loss term through ``auxiliary_loss`` (AC-GAN's classifier, ContraGAN's 2C
    loss), for the phases and sources it declares in ``auxiliary_sources``: the composer lists
    them in the run's objective (``Objective.auxiliary``) before anything trains.
    """

    kind = "head"
    role: ClassVar[str] = ""
    condition: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Component.Params, *, dims: Dims, in_shape: tuple[int, int, int]):
        super().__init__(params, dims=dims)
        self.in_shape = in_shape

    @classmethod
    def input_problem(cls, params: Component.Params, in_shape: tuple[int, int, int]) -> str | None:
        """Why trunk features of ``in_shape`` (C, H, W) cannot feed this head, or None if they can.

        Phrase it as a need, e.g. ``"needs at least 4×4 features"``; the composer adds where.
        """
        return None

    def judge(self, features: torch.Tensor, condition: Condition | None) -> torch.Tensor:
        """The head's output: ``forward(features, condition)`` for a conditional head, else
        ``forward(features)``."""
        return self(features, condition) if self.condition else self(features)

    def pools_positions(self) -> bool:
        """Whether the output reads the features only through their mean over positions: the
        step then gives it that mean, (B, C, 1, 1), computed once for every head that pools."""
        return False

    def auxiliary_sources(self, phase: Phase) -> tuple[Source, ...]:
        """The sources whose samples get this head's own term in ``phase``: none without an
        ``auxiliary_loss``; with one, by default what an adversarial phase judges (D: real and
        fake, G: fake). Override it when the term belongs to fewer (ContraGAN's D: real)."""
        if type(self).auxiliary_loss is Head.auxiliary_loss:
            return ()
        return ("real", "fake") if phase == "discriminator" else ("fake",)

    def auxiliary_loss(
        self, features: torch.Tensor, condition: Condition, phase: Phase, source: Source
    ) -> torch.Tensor | None:
        """A conditional head's own loss term for ``phase`` on the ``source`` samples' trunk
        ``features``, for each source ``auxiliary_sources(phase)`` names (None adds nothing);
        added as ``heads.<role>.auxiliary``, weight 1 (put a weight in ``Params``)."""
        return None


class EmbeddingHead(Head):
    """An embedding head may carry a classifier over the seen classes on top of φ(x)."""

    role = "embedding"

    def class_logits(self, embedding: torch.Tensor) -> torch.Tensor | None:
        """Seen-class logits from φ(x), or None when this head has no classifier."""
        return None


class SemanticEncoder(_SizedNetwork):
    """Base of semantic encoders ψ: attributes (B, num_attributes) to (B, embedding_dim)."""

    kind = "semantic_encoder"


class StepContext(Protocol):
    """What a loss can ask for during one training step. Every quantity is computed on first
    request and cached, so a step computes only what its terms need, each once.

    Classes (:data:`Classes`, :data:`ClassTable`): ``"own"`` — the real images' classes;
    ``"other"`` — another seen class per sample; ``"target"`` — the classes the fakes were made
    for; ``"seen"`` (``attributes`` and ``semantic`` only) — every seen class once, row c for
    label c. The real step and :class:`zsk.api.ToyStep` accept exactly these.
    Sources: ``"real"`` images or ``"fake"`` images (the latter detached from G in the
    discriminator phase). ``real()`` and ``fake()`` are the images without noise; what the
    discriminator sees — ``head``, ``class_logits``, ``reconstruction`` and ``score`` — carries
    the spec's instance noise (``train.instance_noise``: Gaussian, drawn once per source and
    step for the heads, afresh for each ``score`` call). A
    conditional head is told each real image's own class and each fake's target class.
    """

    phase: Phase

    def real(self) -> torch.Tensor: ...
    def fake(self) -> torch.Tensor: ...
    def head(self, role: str, source: Source) -> torch.Tensor: ...
    def class_logits(self, source: Source) -> torch.Tensor: ...
    def semantic(self, which: ClassTable) -> torch.Tensor: ...
    def attributes(self, which: ClassTable) -> torch.Tensor: ...
    def labels(self, which: Classes) -> torch.Tensor:
        """Seen-class indices (0 .. num_seen_classes-1) of ``which`` classes."""
        ...

    def reconstruction(self) -> torch.Tensor:
        """G(D_enc(x)) for the real images."""
        ...

    def real_fake_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample targets (B,) for real and for fake scores, after label smoothing and
        flipping as the spec asks (plain 1 and 0 when it asks for neither)."""
        ...

    def cosine_targets(self) -> tuple[float, float]:
        """Targets for cos(φ, ψ(own)) and cos(φ, ψ(other)): (1, 0), swapped on a flipped batch."""
        ...

    def score(
        self, images: torch.Tensor, which: Classes = "own", role: str = "real_fake"
    ) -> torch.Tensor:
        """The ``role`` head's score of arbitrary images (a gradient penalty's), through the real
        trunk with the step's instance noise; a conditional head is told the ``which`` classes
        (``"own"``, ``"other"`` or ``"target"``). Runs inside :func:`second_order`, so the
        score can be differentiated twice."""
        ...


class Loss(_SizedNetwork, abc.ABC):
    """Base of loss terms. ``forward(step)`` returns a scalar for ``step.phase``.

    ``phases`` lists the objectives the term may appear in; ``requires`` lists the head roles it
    reads, so the composer can refuse a spec whose discriminator lacks them before training.
    """

    kind = "loss"
    phases: ClassVar[frozenset[str]] = frozenset({"discriminator", "generator"})
    requires: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def forward(self, step: StepContext) -> torch.Tensor:
        """This term's scalar value for ``step.phase``."""

    def prepare(self, real: torch.Tensor, labels: torch.Tensor) -> None:
        """Fit what the term needs from the data (f-CLSWGAN's pre-trained classifier) into
        buffers, which checkpoints keep; called before a run's first step (not on resume) with
        every real training sample as loaded (uint8 images or float32 feature rows:
        :func:`zsk.core.data.loader.as_inputs`) and its seen-class index (N,). Default: nothing."""


class Dataset(Component, abc.ABC):
    """Base of data sets: ``load()`` reads class index, attributes and split (not the pixels).

    A data set is also a *data format* of the ``zsk data`` commands (check, prepare, ...) when
    its ``Params`` has a ``root``: ``--format NAME`` reads a folder with it, and ``--format auto``
    picks the data set all of whose ``marker_files`` (paths relative to the folder) exist.
    """

    kind = "dataset"
    #: Files whose presence at a folder's root identifies this format, e.g. ``("classes.txt",)``.
    marker_files: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Component.Params):
        self.params = params

    @abc.abstractmethod
    def load(self) -> ZslData:
        """The data set's classes, attributes, split and image lists."""


#: What a metric may return per value: a number, a count, a short text, or None (not defined).
MetricValue = float | int | str | None


class Metric(Component, abc.ABC):
    """Base of evaluation metrics: ``compute(inputs)`` returns named values for ``eval.json``.

    ``zsk eval --metric NAME`` computes it on a trained run (:class:`MetricInputs`: the networks,
    the data, the real images of each split and the imagined unseen-class images), prints each
    value and writes them to ``eval.json`` under ``metrics.NAME``.
    """

    kind = "metric"

    def __init__(self, params: Component.Params):
        self.params = params

    @abc.abstractmethod
    def compute(self, inputs: MetricInputs) -> dict[str, MetricValue]:
        """This metric's values by name, e.g. ``{"fid": 31.2, "kid": 0.012}``."""


#: The kinds of component, declared to the registry in listing order (``zsk plugins``).
KINDS: tuple[str, ...] = declare_kinds(
    Generator, Trunk, Head, SemanticEncoder, Loss, Normalizer, Attention, Dataset, Metric
)

#: The standard head roles. A plugin may introduce a head of a new role that its own loss consumes.
ROLES: tuple[str, ...] = ("real_fake", "attribute", "embedding", "reconstruction_feature")
