"""A staged run's directory: one folder per stage, each a run, built together as one unit.

``zsk build`` of a staged spec (:mod:`zsk.core.spec.stages`) writes::

    RUN_DIR/stages.lock.yaml           the resolved staged spec and what it was built with
    RUN_DIR/<stage>/                   each stage's run (spec.lock.yaml, init.safetensors)
    RUN_DIR/<stage>/validation/        its validation run, when the spec has validation_run

and ``zsk train`` adds the features a feature stage reads: ``RUN_DIR/<source>/features-<layer>``
from the source stage's trained discriminator, and ``RUN_DIR/<source>/validation/
features-<layer>`` from its validation run's, which the feature stage's validation run reads.

A feature stage is built before those features exist: its networks are composed and
shape-checked against a stand-in of the feature folder its source will write (the image data
set's classes, attributes and split, the source discriminator's feature size), which has the
same fingerprint as the folder extraction writes, so the build stays valid once it is there.
Every stage's files and ``stages.lock.yaml`` are written together, all new or all old, under
the locks of the run directory and of every run in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import yaml

from zsk.core.build.composer import Build, compose, load_data
from zsk.core.build.embed import feature_dim
from zsk.core.components.zsl_data import FeatureSample, ZslData
from zsk.core.data.holdout import apply_holdout
from zsk.core.rundir.building import locked_runs
from zsk.core.rundir.directory import (
    LOCK_FILE,
    RUNS,
    STAGES_FILE,
    PlannedRun,
    is_staged,
    located_in,
    lock_section,
    lock_text,
    move_aside_in_the_way,
    record_latest_run,
    refuse_in_the_way,
    write_runs,
)
from zsk.core.rundir.validation_run import VALIDATION_DIR
from zsk.core.spec.loading import StagedDocument, read_spec
from zsk.core.spec.refs import DatasetRef
from zsk.core.spec.sections import Problem, Spec, SpecError
from zsk.core.spec.stages import StagedSpec, StageSpec
from zsk.registry import ComponentRegistry, UserError, get_registry


@dataclass(frozen=True)
class Stage:
    """One stage of a staged run: its name, its spec body, its run directory."""

    name: str
    spec: StageSpec
    run_dir: Path

    @property
    def validation_dir(self) -> Path:
        return self.run_dir / VALIDATION_DIR

    def runs(self) -> list[Path]:
        """The stage's built runs in training order: its validation run first, then itself."""
        validation = [self.validation_dir] if (self.validation_dir / LOCK_FILE).is_file() else []
        return [*validation, self.run_dir]


@dataclass(frozen=True)
class StagedRun:
    """A built staged run: its spec and its stages in training order."""

    run_dir: Path
    spec: StagedSpec
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)

    def source_of(self, stage: Stage) -> Stage | None:
        """The stage whose discriminator gives ``stage`` its features (None: an image stage)."""
        return (
            None if stage.spec.features_from is None else self.stage(stage.spec.features_from.stage)
        )


def picture_run(run_dir: Path) -> Path:
    """The run that draws pictures: ``run_dir`` itself, or for a staged run the last image stage
    that trains a generator (``zsk generate`` and ``zsk translate`` imagine images with it)."""
    if not is_staged(run_dir):
        return run_dir
    staged = read_staged(run_dir)
    drawing = [s for s in staged.stages if s.spec.data is not None and s.spec.objective.generator]
    if not drawing:
        names = ", ".join(stage.name for stage in staged.stages)
        raise UserError(
            f"no stage of {run_dir} ({names}) trains an image generator, so it draws no pictures",
            hint="give an image stage generator terms (objective.generator), or add an image GAN "
            "stage to the spec, and build and train again",
        )
    return drawing[-1].run_dir


def features_dir(source_run: Path, layer: str) -> Path:
    """Where a source run's discriminator features of layer ``layer`` are written."""
    return source_run / f"features-{layer}"


def read_staged(run_dir: Path) -> StagedRun:
    """The staged run in ``run_dir`` (its ``stages.lock.yaml``)."""
    document = read_spec(run_dir / STAGES_FILE)
    if not isinstance(document, StagedDocument):
        raise UserError(
            f"{run_dir / STAGES_FILE} holds a one-stage spec, not a staged one",
            hint="build the run again: zsk build SPEC --force",
        )
    spec = document.spec
    return StagedRun(
        run_dir, spec, [Stage(name, body, run_dir / name) for name, body in spec.stages.items()]
    )


@dataclass(frozen=True)
class StageBuild:
    """What building one stage gave: its run and its validation run (None without one)."""

    stage: Stage
    build: Build
    validation: Path | None


def build_staged(
    document: StagedDocument,
    overrides: Sequence[str] = (),
    out: Path | None = None,
    force: bool = False,
    *,
    on_moved_aside: Callable[[Path, Path], None] | None = None,
) -> tuple[Path, list[StageBuild]]:
    """Build every stage of a staged spec and its validation run into one run directory.

    Every stage is composed and shape-checked before anything is written. Under the locks of
    the run directory and of every run in it, a run directory that holds trained runs (or a
    one-stage run) is refused unless ``force``, which moves it aside; then every run's files
    are written together, and runs of an earlier build that this spec has not (a stage renamed,
    a validation run dropped) lose their lock file and weights.
    """
    staged = document.spec
    run_dir = Path(out) if out is not None else RUNS / staged.name
    planned = _compose_stages(document, run_dir)
    runs = [
        PlannedRun(folder, build, _lock(build, document.source, overrides))
        for stage, main, validation in planned
        for folder, build in ((stage.run_dir, main), (stage.validation_dir, validation))
        if build is not None
    ]
    planned_dirs = {r.run_dir for r in runs}
    with locked_runs(sorted({run_dir, *planned_dirs, *_runs_in(run_dir)})):
        refuse_in_the_way(run_dir, force, staged=True)
    move_aside_in_the_way(run_dir, staged=True, on_moved_aside=on_moved_aside)
    existing = _runs_in(run_dir)
    with locked_runs(sorted({run_dir, *planned_dirs, *existing})):
        text = _stages_lock_text(staged, document.source, overrides)
        retired = [folder for folder in existing if folder not in planned_dirs]
        write_runs(runs, retired=retired, beside={run_dir / STAGES_FILE: text})
    record_latest_run(run_dir)
    built = [
        StageBuild(stage, main, stage.validation_dir if validation is not None else None)
        for stage, main, validation in planned
    ]
    return run_dir, built


def _runs_in(run_dir: Path) -> list[Path]:
    """The runs a build left in ``run_dir``: its stages and their validation runs."""
    return sorted(
        p.parent for p in (*run_dir.glob(f"*/{LOCK_FILE}"), *run_dir.glob(f"*/*/{LOCK_FILE}"))
    )


def _lock(build: Build, source: str, overrides: Sequence[str]) -> str:
    return lock_text(build, lock_section(build, source=source, overrides=overrides))


def _compose_stages(
    document: StagedDocument, run_dir: Path
) -> list[tuple[Stage, Build, Build | None]]:
    """Each stage's build and its validation run's build, in order (nothing written); a
    problem is located where the stage is written."""
    staged, registry = document.spec, get_registry()
    planned: list[tuple[Stage, Build, Build | None]] = []
    builds: dict[str, Build] = {}
    for name, body in staged.stages.items():
        if body.features_from is None:
            if body.data is None:  # the stage spec's validator requires one of the two
                raise RuntimeError(f"stage '{name}' has neither data nor features_from")
            spec = staged.stage_spec(name, body.data)
            located = document.stage_document(name, spec)
            inputs = located_in(located, partial(_image_inputs, spec, registry))
        else:
            source, upstream = body.features_from, builds[body.features_from.stage]
            dim = feature_dim(upstream.gan, source.layer, upstream.dims.image_size)
            origin = run_dir.resolve() / source.stage  # read from any working directory
            spec = staged.stage_spec(name, _feature_folder(features_dir(origin, source.layer)))
            located = document.stage_document(name, spec)
            make = partial(_feature_inputs, spec, upstream.data, dim, origin, source.layer)
            inputs = located_in(located, make)
        builds[name] = located_in(located, partial(compose, *inputs[0], registry=registry))
        validation = None
        if inputs[1] is not None:
            validation = located_in(located, partial(compose, *inputs[1], registry=registry))
        planned.append((Stage(name, body, run_dir / name), builds[name], validation))
    return planned


Inputs = tuple[tuple[Spec, ZslData], tuple[Spec, ZslData] | None]


def _image_inputs(spec: Spec, registry: ComponentRegistry) -> Inputs:
    """An image stage's spec and data, and its validation run's (None without one)."""
    data = load_data(spec, registry=registry)
    if spec.validation_run is None:
        return (spec, data), None
    holdout = _validation_spec(spec)
    return (spec, data), (holdout, load_data(holdout, registry=registry))


def _feature_inputs(spec: Spec, images: ZslData, dim: int, origin: Path, layer: str) -> Inputs:
    """A feature stage's spec and stand-in data (the folder its source ``origin`` will write),
    and its validation run's, which reads the features of the source's validation run."""
    data = _planned_features(images, dim, features_dir(origin, layer))
    if spec.validation_run is None:
        return (spec, data), None
    root = features_dir(origin / VALIDATION_DIR, layer)
    holdout = _validation_spec(spec.model_copy(update={"data": _feature_folder(root)}))
    return (spec, data), (holdout, _held_out(holdout, _planned_features(images, dim, root)))


def _validation_spec(spec: Spec) -> Spec:
    """``spec`` as its validation run: holdout set to its validation_run section."""
    return spec.model_copy(update={"holdout": spec.validation_run, "validation_run": None})


def _feature_folder(root: Path) -> DatasetRef:
    return DatasetRef.model_validate(
        {"type": "feature_folder", "params": {"root": str(root)}},
        context={"registry": get_registry()},
    )


def _held_out(spec: Spec, data: ZslData) -> ZslData:
    holdout = spec.holdout
    if holdout is None:
        raise RuntimeError(f"the validation run of '{spec.name}' has no holdout section")
    try:
        return apply_holdout(data, holdout.classes, holdout.images, holdout.seed)
    except UserError as exc:
        raise SpecError([Problem(("validation_run", "classes"), exc.message, exc.hint)]) from exc


def _planned_features(images: ZslData, dim: int, root: Path) -> ZslData:
    """The feature folder that extracting ``dim`` features of every image of ``images`` writes
    at ``root``, with zeros for the features: same classes, attributes, split and sample order
    (:func:`zsk.core.data.extract.plan_rows`), so the same fingerprint and holdout draws."""
    rows, splits = 0, {}
    for split in ("train", "test_seen", "test_unseen"):
        samples = getattr(images, split)
        splits[split] = [FeatureSample(rows + i, s.label) for i, s in enumerate(samples)]
        rows += len(samples)
    return ZslData(
        root=root,
        classes=images.classes,
        predicates=images.predicates,
        attributes=images.attributes,
        seen=images.seen,
        unseen=images.unseen,
        features=torch.zeros(rows, dim),
        validation_classes=images.validation_classes,
        **splits,
    )


def _stages_lock_text(spec: StagedSpec, source: str, overrides: Sequence[str]) -> str:
    header = (
        "# Written by `zsk build`: the resolved staged spec; each stage's run is the folder of\n"
        "# its name, with its own spec.lock.yaml. `zsk build THIS_FILE` rebuilds the same run.\n"
    )
    # each stage's own lock file holds versions, provenance and its data's fingerprint
    lock = {"spec_file": source, "overrides": list(overrides)}
    body = {**spec.model_dump(mode="json"), "lock": lock}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
