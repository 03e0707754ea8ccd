"""A spec with stages: runs that train one after another in one run directory.

A staged spec names its stages under ``stages:``, in the order they train. An image stage reads
a data set (``data:``) as any spec does; a feature stage reads instead the features that an
earlier image stage's trained discriminator gives every image (``features_from:``), so a
recogniser and a GAN that generates its embeddings φ(x) are one spec::

    name: shapes-two-stage
    validation_run: {}
    stages:
      recogniser:
        data: {type: awa2, params: {root: data/shapes}}
        model: {...}
        objective: {...}
      features:
        features_from: {stage: recogniser, layer: embedding}
        model: {...}
        objective: {...}

Each stage body is a one-stage spec without ``name`` (the stage's key names it) and with
``features_from`` standing for ``data``. ``validation_run`` is the whole spec's: every stage
gets a validation run holding out the same classes, and a feature stage's validation run reads
the features of its source stage's *validation* run, which never saw those classes.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from zsk.core.spec.refs import DatasetRef
from zsk.core.spec.sections import (
    HoldoutSpec,
    ModelSpec,
    ObjectiveSpec,
    Problem,
    RunName,
    Spec,
    SpecPath,
    TrainSpec,
    _Strict,
    reference_problems,
)
from zsk.registry import ComponentRegistry

#: What a stage's discriminator can give a later stage, by ``features_from.layer``.
LAYERS: dict[str, str] = {
    "embedding": "the embedding head's φ(x), which the cosine terms align with the attributes",
    "trunk": "the trunk's features averaged over positions",
}

StageName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=60)]


class FeaturesFrom(_Strict):
    """Where a feature stage's data comes from: an earlier image stage's trained discriminator."""

    stage: str = Field(description="the earlier image stage whose discriminator embeds the images")
    layer: Literal["embedding", "trunk"] = Field(
        "embedding",
        description="embedding: the embedding head's φ(x); trunk: the trunk's features "
        "averaged over positions",
    )


class StageSpec(_Strict):
    """One stage: a one-stage spec's body, reading ``data`` or an earlier stage's features."""

    data: DatasetRef | None = Field(None, description="an image stage's data set")
    features_from: FeaturesFrom | None = Field(
        None, description="a feature stage's source: an earlier stage's discriminator features"
    )
    model: ModelSpec
    objective: ObjectiveSpec
    train: TrainSpec = Field(default_factory=TrainSpec)

    @model_validator(mode="after")
    def _one_source(self) -> StageSpec:
        if (self.data is None) == (self.features_from is None):
            raise ValueError(
                "a stage reads either a data set (data:) or an earlier stage's features "
                "(features_from: {stage: NAME, layer: embedding}), exactly one of them"
            )
        return self

    def as_spec(self, name: str, data: DatasetRef, validation_run: HoldoutSpec | None) -> Spec:
        """This stage as a one-stage spec named ``name`` reading ``data``."""
        return Spec(
            name=name,
            data=data,
            model=self.model,
            objective=self.objective,
            train=self.train,
            validation_run=validation_run,
        )


class StagedSpec(_Strict):
    name: RunName = Field(
        description="the run's name; `zsk build` writes runs/<name>/ with one folder per stage; "
        "defaults to the spec file's name without .yaml",
    )
    stages: dict[StageName, StageSpec] = Field(
        min_length=1,
        description="the stages by name, in the order they train; a later stage may read an "
        "earlier image stage's discriminator features (features_from)",
    )
    validation_run: HoldoutSpec | None = Field(
        None,
        description="give every stage a validation run holding out the same seen classes "
        "(RUN_DIR/<stage>/validation); a feature stage's reads its source's validation run",
    )

    def stage_spec(self, stage: str, data: DatasetRef) -> Spec:
        """Stage ``stage`` as a one-stage spec reading ``data``, named ``<name>.<stage>``."""
        return self.stages[stage].as_spec(f"{self.name}.{stage}", data, self.validation_run)


def stage_problems(spec: StagedSpec, registry: ComponentRegistry) -> list[Problem]:
    """What the stages say about each other, and each stage's own cross-part problems.

    A stage's ``features_from`` must name an image stage written above it (stages train in the
    order written, so naming itself or a later one is a cycle or a wait that never ends) whose
    discriminator gives the layer asked for.
    """
    problems: list[Problem] = []
    names = list(spec.stages)
    for position, (name, stage) in enumerate(spec.stages.items()):
        prefix: SpecPath = ("stages", name)
        data = stage.data or DatasetRef(type="feature_folder")
        for problem in reference_problems(stage.as_spec(name, data, None), registry):
            problems.append(Problem((*prefix, *problem.path), problem.message, problem.hint))
        if stage.features_from is not None:
            problems += _source_problems(spec, names, position, stage.features_from)
    return problems


def _source_problems(
    spec: StagedSpec, names: list[str], position: int, source: FeaturesFrom
) -> list[Problem]:
    name = names[position]
    where: SpecPath = ("stages", name, "features_from", "stage")
    images_above = [n for n in names[:position] if spec.stages[n].data is not None]
    if source.stage not in spec.stages:
        close = difflib.get_close_matches(source.stage, names, n=1, cutoff=0.6)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        return [
            Problem(
                where,
                f"no stage named '{source.stage}'.{guess}",
                hint=f"stages: {', '.join(names)}; name an image stage written above '{name}'",
            )
        ]
    if source.stage == name:
        return [Problem(where, f"stage '{name}' cannot read its own features")]
    if names.index(source.stage) > position:
        later = spec.stages[source.stage].features_from
        cycle = later is not None and later.stage == name
        what = (
            f"a cycle: '{source.stage}' reads the features of '{name}' too"
            if cycle
            else f"'{source.stage}' trains after '{name}' (stages train in the order written)"
        )
        hint = (
            f"the first stage must read images (data:); e.g. move '{source.stage}' above "
            f"'{name}' and give it a data set"
            if not images_above
            else f"read the features of an image stage written above it: {', '.join(images_above)}"
        )
        return [
            Problem(where, f"stage '{name}' reads the features of '{source.stage}', {what}", hint)
        ]
    origin = spec.stages[source.stage]
    if origin.data is None:
        return [
            Problem(
                where,
                f"stage '{source.stage}' trains on features itself, so it has no image "
                "discriminator to embed images with",
                hint=f"name an image stage (one with data:): {', '.join(images_above) or 'none'}",
            )
        ]
    if source.layer == "embedding" and "embedding" not in origin.model.heads:
        return [
            Problem(
                ("stages", name, "features_from", "layer"),
                f"stage '{source.stage}' has no embedding head (stages.{source.stage}.model."
                "heads.embedding), so it cannot give the layer 'embedding'",
                hint=f"use layer: trunk, or add an embedding head to '{source.stage}'",
            )
        ]
    return []
