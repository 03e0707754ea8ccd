"""The declarative spec of a whole attribute-conditioned GAN, as pydantic v2 models.

Every component is a ``{type: NAME, params: {...}}`` reference whose params are validated by that
component's own ``Params`` model when the spec is validated with the registry in the validation
context (see :mod:`zsk.core.refs`). Sizes the data determines (attributes, seen classes) are
optional here; when given they must agree with the data set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from zsk.core.refs import (
    DatasetRef,
    GeneratorRef,
    HeadRef,
    LossRef,
    SemanticEncoderRef,
    TrunkRef,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    image_size: int = Field(64, ge=8, le=1024, description="side of the square images, pixels")
    channels: int = Field(3, ge=1, le=4, description="image channels")
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
    heads: dict[str, HeadRef] = Field(description="discriminator heads by role")
    semantic_encoder: SemanticEncoderRef = Field(description="ψ: attributes to the embedding space")


class Term(LossRef):
    """One weighted term of an objective: a loss component and its weight."""

    weight: float = Field(1.0, description="multiplier of this term in its objective")
    label: str | None = Field(None, description="name in logs; defaults to the loss type")

    @property
    def display_name(self) -> str:
        return self.label or self.type


class ObjectiveSpec(_Strict):
    discriminator: list[Term] = Field(description="terms of D's loss (D and ψ step on it)")
    generator: list[Term] = Field(description="terms of G's loss")


class OptimizerSpec(_Strict):
    lr: float = Field(2e-4, gt=0, description="Adam learning rate")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (AdamW when > 0)")


class OptimizersSpec(_Strict):
    generator: OptimizerSpec = Field(default_factory=lambda: OptimizerSpec(lr=5e-5))
    discriminator: OptimizerSpec = Field(
        default_factory=lambda: OptimizerSpec(lr=2e-4),
        description="the discriminator and the semantic encoder",
    )


class ScheduleSpec(_Strict):
    type: Literal["constant", "constant_then_linear"] = "constant"
    constant: int = Field(0, ge=0, description="length of the constant phase, in `unit`")
    decay: int = Field(0, ge=0, description="length of the linear decay to 0, in `unit`")
    unit: Literal["steps", "epochs"] = "epochs"


class LabelSmoothingSpec(_Strict):
    real: tuple[float, float] = Field((0.7, 1.25), description="uniform range of real targets")
    fake: tuple[float, float] = Field((0.0, 0.25), description="uniform range of fake targets")


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
    negative_fraction: float = Field(
        0.5, ge=0, le=1, description="share of fakes made for another class's attributes"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    ema: EmaSpec | None = None
    grad_clip: float | None = Field(None, gt=0, description="clip gradient norms to this")
    seed: int = 0
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


class Spec(_Strict):
    name: str = Field(description="the run's name; `zsk build` writes runs/<name>/")
    data: DatasetRef
    model: ModelSpec
    objective: ObjectiveSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
