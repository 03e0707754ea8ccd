"""The declarative spec of a whole attribute-conditioned GAN, as pydantic v2 models.

Every component is a ``{type: NAME, params: {...}}`` reference whose params are validated by that
component's own ``Params`` model when the spec is validated with the registry in the validation
context (see :mod:`zsk.core.spec.refs`). Sizes the data determines (attributes, seen classes,
channels) are optional here; when given they must agree with the data set.

Checks that need more than one part of the spec at once (a head's role against its key, a loss's
phases and required heads against the objective and the discriminator) are
:func:`reference_problems`; the spec loader and the composer both run them. Problems are located
by their path in the spec (:class:`Problem`) and raised together as a :class:`SpecError`, which
the spec loader turns into ``file:line:col  dotted.path  message`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from zsk.core.components.interfaces import Phase
from zsk.core.spec.refs import (
    DatasetRef,
    GeneratorRef,
    HeadRef,
    LossRef,
    SemanticEncoderRef,
    TrunkRef,
)
from zsk.registry import ComponentRegistry, RegistryError, UserError
from zsk.registry.components import Component

PathPart = str | int
SpecPath = tuple[PathPart, ...]


def dotted(path: Sequence[PathPart]) -> str:
    """``("objective", "generator", 0, "type")`` -> ``"objective.generator.0.type"``.

    A key with a dot, whitespace or nothing in it is shown quoted, e.g. ``train.['a b']``.
    """
    parts = [str(part) if _PLAIN_KEY.fullmatch(str(part)) else f"[{str(part)!r}]" for part in path]
    return ".".join(parts) or "(spec)"


_PLAIN_KEY = re.compile(r"[^\s.]+")


#: the largest seed: a signed 64-bit integer, which every generator (and a rank's offset) takes
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, at a path inside it."""

    path: SpecPath
    message: str
    hint: str | None = None


class SpecError(UserError):
    """Problems of a spec, each at its path; ``origin`` maps a path to ``file:line:col``."""

    def __init__(
        self,
        problems: Sequence[Problem],
        origin: Callable[[SpecPath], str] | None = None,
    ):
        self.problems = list(problems)
        self.origin = origin
        super().__init__(self.render())

    def located(self, origin: Callable[[SpecPath], str]) -> SpecError:
        """The same problems, each prefixed with where it is in a file."""
        return SpecError(self.problems, origin)

    def render(self) -> str:
        lines = []
        for problem in self.problems:
            where = f"{self.origin(problem.path)}  " if self.origin else ""
            lines.append(f"{where}{dotted(problem.path)}  {problem.message}")
            if problem.hint:
                lines.append(f"  {problem.hint}")
        return "\n".join(lines)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ModelSpec(_Strict):
    image_size: int = Field(64, ge=8, le=1024, description="side of the square images, pixels")
    channels: int | None = Field(
        None, ge=1, le=4, description="optional; read from the data set (an error if they disagree)"
    )
    embedding_dim: int = Field(256, ge=2, description="size of the shared embedding space")
    noise_dim: int = Field(128, ge=0, description="size of the generator's noise input")
    num_attributes: int | None = Field(
        None, ge=1, description="optional; read from the data set (an error if they disagree)"
    )
    num_seen_classes: int | None = Field(
        None, ge=2, description="optional; read from the data set (an error if they disagree)"
    )
    generator: GeneratorRef = Field(description="the generator G")
    trunk: TrunkRef = Field(description="the discriminator's shared body")
    heads: dict[str, HeadRef] = Field(
        min_length=1, description="discriminator heads by role (the key is the head's role)"
    )
    semantic_encoder: SemanticEncoderRef = Field(description="ψ: attributes to the embedding space")


class Term(LossRef):
    """One weighted term of an objective: a loss component and its weight."""

    weight: float = Field(
        1.0, allow_inf_nan=False, description="multiplier of this term in its objective"
    )
    label: str | None = Field(None, description="name in logs; defaults to the loss type")

    @property
    def display_name(self) -> str:
        return self.label or self.type


class ObjectiveSpec(_Strict):
    discriminator: list[Term] = Field(
        min_length=1, description="terms of D's loss (D and ψ step on it)"
    )
    generator: list[Term] = Field(
        description="terms of G's loss; empty trains no generator (a discriminative baseline)"
    )


class OptimizerSpec(_Strict):
    lr: float = Field(2e-4, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (AdamW when > 0)")

    @model_validator(mode="after")
    def _betas_in_range(self) -> OptimizerSpec:
        if not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ValueError(f"Adam betas must lie in [0, 1); got {list(self.betas)}")
        return self


class GeneratorOptimizerSpec(OptimizerSpec):
    """The generator's optimiser: its own default learning rate, which holds whichever of its
    other keys a spec gives (``generator: {betas: [0.5, 0.9]}`` keeps lr 5e-5)."""

    lr: float = Field(5e-5, gt=0, description="Adam learning rate")


class OptimizersSpec(_Strict):
    """One optimiser per role; each role's defaults hold key by key."""

    generator: GeneratorOptimizerSpec = Field(default_factory=GeneratorOptimizerSpec)
    discriminator: OptimizerSpec = Field(
        default_factory=OptimizerSpec,
        description="the discriminator and the semantic encoder",
    )


class ScheduleSpec(_Strict):
    type: Literal["constant", "constant_then_linear"] = "constant"
    constant: int = Field(0, ge=0, description="length of the constant phase, in `unit`")
    decay: int = Field(0, ge=0, description="length of the linear decay to 0, in `unit`")
    unit: Literal["steps", "epochs"] = "epochs"


def _ordered_range(bounds: tuple[float, float], what: str) -> tuple[float, float]:
    if bounds[0] > bounds[1]:
        raise ValueError(f"{what} range must be [low, high] with low <= high; got {list(bounds)}")
    return bounds


class LabelSmoothingSpec(_Strict):
    real: tuple[float, float] = Field((0.7, 1.25), description="uniform range of real targets")
    fake: tuple[float, float] = Field((0.0, 0.25), description="uniform range of fake targets")

    @model_validator(mode="after")
    def _ranges_ordered(self) -> LabelSmoothingSpec:
        _ordered_range(self.real, "real")
        _ordered_range(self.fake, "fake")
        return self


class LabelFlipSpec(_Strict):
    real_fake: float = Field(0.0, ge=0, le=1, description="P(swap real/fake targets) per batch")
    cosine: float = Field(0.0, ge=0, le=1, description="P(swap cosine targets) per batch")


class InstanceNoiseSpec(_Strict):
    std: float = Field(0.0, ge=0, description="std of Gaussian noise added to D's inputs")
    decay: float = Field(1.0, gt=0, le=1, description="std multiplied by this after each step")


class EmaSpec(_Strict):
    decay: float = Field(0.999, gt=0, lt=1, description="EMA decay of the generator's weights")


class TrainSpec(_Strict):
    batch_size: int = Field(64, ge=1)
    steps: int | None = Field(None, ge=1, description="training steps (one of steps/epochs)")
    epochs: int | None = Field(None, ge=1, description="passes over the training images")
    n_critic: int = Field(1, ge=1, description="discriminator updates per generator update")
    optimizers: OptimizersSpec = Field(default_factory=OptimizersSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    label_smoothing: LabelSmoothingSpec | None = None
    label_flip: LabelFlipSpec = Field(default_factory=LabelFlipSpec)
    instance_noise: InstanceNoiseSpec = Field(default_factory=InstanceNoiseSpec)
    hflip: bool = Field(True, description="random horizontal flips of real images")
    translate: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="random shifts of real images by up to this share of their side, in whole "
        "pixels, edge pixels repeated into the uncovered border (0: none)",
    )
    negative_fraction: float = Field(
        0.5, ge=0, le=1, description="share of fakes made for another class's attributes"
    )
    batch_sampling: Literal["permutation", "random"] = Field(
        "permutation",
        description="how batches are drawn: 'permutation' (each epoch visits every training "
        "image once, in a new order) or 'random' (each batch is drawn at random afresh, so an "
        "image may come twice in an epoch or not at all: f-CLSWGAN's release)",
    )
    generator_noise: Literal["shared", "fresh"] = Field(
        "shared",
        description="the generator step's fakes: 'shared' (those of the last critic step, "
        "generated once) or 'fresh' (generated again from new noise for the same batch and "
        "classes: f-CLSWGAN's release)",
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = Field(
        True,
        description="image networks and batches in channels_last memory layout (NHWC): faster "
        "convolutions on CUDA and the CPU; the same numbers up to float rounding",
    )
    compile: bool = False
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of the training process (None: torch's default, one per core); "
        "pinned, the CPU seconds a run spends do not grow with the machine's cores",
    )
    ema: EmaSpec | None = None
    grad_clip: float | None = Field(None, gt=0, description="clip gradient norms to this")
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="seeds the initial weights and the training run"
    )
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    sample_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _one_length(self) -> TrainSpec:
        if self.steps is None and self.epochs is None:
            self.steps = 1000
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give train.steps or train.epochs, not both")
        return self


class HoldoutSpec(_Strict):
    """Make the run a *validation run*: seen classes and images it never trains on.

    The held-out classes play the unseen classes and the held-out images of the other seen
    classes play the seen test images, so ``zsk eval --calibrate-with`` can choose a calibration
    constant for another run of the same spec where the field's protocol says to: on classes
    the networks never saw, without touching a test image.
    """

    classes: int | list[str] | None = Field(
        None,
        description="seen classes held out: a count drawn with the seed, or their names; "
        "default: the data set's own validation classes when it has them (xlsa17: val_loc's), "
        "else its unseen share of the seen classes (AwA2: 8 of 40)",
    )
    images: float = Field(
        0.2, gt=0, lt=1, description="share of each remaining seen class's training images held out"
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="draws the held-out classes and images")


#: A run's name, which names the folder ``zsk build`` writes (``runs/<name>/``): letters,
#: digits, ``.``, ``_`` and ``-``, starting with a letter or digit.
RunName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]


class Spec(_Strict):
    name: RunName = Field(
        description="the run's name (letters, digits, . _ -); `zsk build` writes runs/<name>/; "
        "defaults to the spec file's name without .yaml",
    )
    data: DatasetRef
    model: ModelSpec
    objective: ObjectiveSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    holdout: HoldoutSpec | None = Field(
        None, description="leave seen classes out of training (a validation run, see HoldoutSpec)"
    )
    validation_run: HoldoutSpec | None = Field(
        None,
        description="build and train a validation run (this spec with these holdout settings) "
        "in RUN_DIR/validation beside the run; zsk eval chooses GZSL's calibration on it",
    )


PHASES: tuple[Phase, ...] = ("discriminator", "generator")


def reference_problems(spec: Spec, registry: ComponentRegistry) -> list[Problem]:
    """What the spec's parts say about each other that no single part can check.

    Each head's key must be its role; each loss must be allowed in the objective it is in and
    find the head roles it reads; term names must be unique within an objective.
    """
    problems: list[Problem] = []

    def lookup(kind: str, name: str, path: SpecPath) -> type[Component] | None:
        try:
            return registry.component(kind, name)
        except RegistryError as exc:
            problems.append(Problem(path, exc.message, exc.hint))
            return None

    for key, ref in spec.model.heads.items():
        head = lookup("head", ref.type, ("model", "heads", key, "type"))
        role = getattr(head, "role", key)
        if role != key:
            problems.append(
                Problem(
                    ("model", "heads", key, "type"),
                    f"head '{ref.type}' plays the role '{role}', so it must sit under "
                    f"model.heads.{role}, not model.heads.{key}",
                    hint=f"rename the key to '{role}', or choose a head whose role is '{key}' "
                    f"(`zsk plugins --kind head`)",
                )
            )
    for phase in PHASES:
        problems += _term_problems(spec, phase, lookup)
    return problems


def _term_problems(
    spec: Spec, phase: str, lookup: Callable[[str, str, SpecPath], type[Component] | None]
) -> list[Problem]:
    """Each term of ``objective.PHASE``: allowed there, its heads present, its name unique."""
    problems: list[Problem] = []
    heads = spec.model.heads
    seen_names: dict[str, int] = {}
    for index, term in enumerate(getattr(spec.objective, phase)):
        where = ("objective", phase, index, "type")
        loss = lookup("loss", term.type, where)
        if loss is None:
            continue
        allowed = sorted(getattr(loss, "phases", PHASES))
        if phase not in allowed:
            problems.append(
                Problem(
                    where,
                    f"loss '{term.type}' is not a {phase} term; it belongs in "
                    f"{' or '.join('objective.' + p for p in allowed)}",
                )
            )
        missing = sorted(set(getattr(loss, "requires", ())) - set(heads))
        if missing:
            have = ", ".join(sorted(heads)) or "none"
            problems.append(
                Problem(
                    where,
                    f"loss '{term.type}' reads the {', '.join(missing)} head(s), but "
                    f"model.heads has no {' or '.join(repr(m) for m in missing)} "
                    f"(it has: {have})",
                    hint=f"add model.heads.{missing[0]}, or drop this term",
                )
            )
        name = term.display_name
        if name in seen_names:
            problems.append(
                Problem(
                    ("objective", phase, index),
                    f"two terms named '{name}' in objective.{phase} (terms "
                    f"{seen_names[name]} and {index})",
                    hint="give one of them a distinct `label:`",
                )
            )
        seen_names.setdefault(name, index)
    return problems
