"""The evaluation result: what ``zsk eval`` writes to ``RUN_DIR/eval.json`` and what ``zsk
report``, the summary table and scripts read back, as one typed, versioned model.

Every number of a route (a way of recognising unseen classes: the embedding head, a classifier
on imagined samples, ...) sits under ``routes[NAME]`` in the same shape, so a new route is a new
key, not a new layout. A route that the run cannot take is named in ``unavailable`` with the
reason. ``schema_version`` changes whenever a reader of the old layout would misread the new
one; a file of another version is refused with the fix (evaluate again), never guessed at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zsk.core.components.interfaces import MetricValue
from zsk.core.storage.files import explain, write_file
from zsk.registry import UserError

EVAL_FILE = "eval.json"
#: the layout's version; 1 was the unversioned layout with the embedding route at the top, 2
#: the headline before it named a ZSL route and its routes' cross-fitted numbers
SCHEMA_VERSION = 3


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accuracies(_Record):
    """Per-class accuracy on unseen-class images (u), on seen-class images (s), and their H."""

    u: float
    s: float
    h: float


class CalibrationRecord(_Record):
    """GZSL's calibration constant γ, the validation accuracies it gave, and where it was chosen;
    ``chosen_gamma``: the constant as the validation network chose it, where γ is that one
    carried into the run's own scale (:mod:`zsk.core.evaluate.carry`)."""

    gamma: float
    val_u: float
    val_s: float
    val_h: float
    source: str
    chosen_gamma: float | None = None


class GzslNumbers(Accuracies):
    """GZSL u, s, H on the test images after calibration, AUSUC over every constant, and u, s,
    H without calibration. A route evaluated without calibration (its classifier's own scores
    decide, as a published protocol does) has u, s, H only."""

    calibration: CalibrationRecord | None = None
    ausuc: float | None = None
    uncalibrated: Accuracies | None = None


class Candidate(_Record):
    """One setting of the generative route tried on validation classes, and its validation H."""

    images_per_class: int
    epochs: int
    val_h: float


class Combination(_Record):
    """How a combined route weighs its two routes, chosen on validation classes: the softmax
    temperature of the embedding route's cosines and the embedding route's weight, for GZSL
    and (``zsl_``) for ZSL."""

    temperature: float
    embedding_weight: float
    zsl_temperature: float
    zsl_embedding_weight: float


class CrossFitRecord(_Record):
    """A route's calibrated H and ZSL top-1 on the validation images, each of ``folds`` folds
    predicted with the settings it chose on the others (:mod:`zsk.core.evaluate.cross_fit`)."""

    h: float
    zsl_top1: float
    folds: int


class RouteResult(_Record):
    """One route's numbers: ZSL top-1 among the unseen classes, GZSL over all classes, and, for
    a route that imagines samples, the settings chosen on validation classes among candidates;
    for a combined route, how it weighs its two routes; for the embedding route, whether each
    image's embedding was averaged with its mirror image's."""

    zsl_top1: float
    gzsl: GzslNumbers
    images_per_class: int | None = None
    classifier_epochs: int | None = None
    chosen_on_validation: list[Candidate] | None = None
    combination: Combination | None = None
    cross_fitted: CrossFitRecord | None = None
    mirror_averaged: bool | None = None


class AttributeProbe(_Record):
    """A probe from images to binary attributes, trained on real training images: its accuracy
    on real test images (the reference) and per predicate on imagined and real unseen images."""

    real_test_seen: float
    real_test_unseen: float
    threshold: str
    steps: int
    per_predicate: dict[str, dict[str, float]]


class ImaginedRecord(_Record):
    """How well imagined unseen-class samples carry their class's attributes."""

    attribute_accuracy: float
    probe: AttributeProbe


class MetricOutcome(_Record):
    """A metric plugin's values, or why it failed (its other numbers are kept either way)."""

    values: dict[str, bool | MetricValue] | None = None
    failed: str | None = None


class CalibrationSummary(_Record):
    """Where GZSL's constants were chosen: the source in words, how many validation images of
    each side, and, only when they are the run's own pseudo-unseen classes, which classes."""

    source: str
    seen_images: int
    unseen_images: int
    pseudo_unseen_classes: list[int] | None = None


class ImageCounts(_Record):
    train: int
    test_seen: int
    test_unseen: int


class Headline(_Record):
    """The routes an evaluation puts first, chosen on validation classes (never on test data):
    for GZSL the route with the highest validation H (``route``, its calibrated test H in
    ``h``), for ZSL the one with the highest cross-fitted ZSL top-1 (``zsl_route``, its test
    top-1 in ``zsl_top1``); why; every calibrated route's validation H (``candidates``) and its
    cross-fitted numbers (``cross_fitted``, empty where a route has none: the ZSL route is then
    the GZSL route)."""

    route: str
    kind: str
    val_h: float
    h: float
    zsl_route: str
    zsl_kind: str
    zsl_top1: float
    why: str
    candidates: dict[str, float]
    cross_fitted: dict[str, CrossFitRecord] = Field(default_factory=dict)


class EvalResult(_Record):
    """Everything ``zsk eval`` measured for one checkpoint of a run."""

    schema_version: Literal[3] = SCHEMA_VERSION
    run: str
    checkpoint: str
    step: int
    seed: int
    routes: dict[str, RouteResult]
    unavailable: dict[str, str] = Field(default_factory=dict)
    imagined: ImaginedRecord | None = None
    metrics: dict[str, MetricOutcome] = Field(default_factory=dict)
    calibration: CalibrationSummary
    images: ImageCounts
    headline: Headline | None = None

    def failed_metrics(self) -> dict[str, str]:
        """The metric plugins that failed, with their reasons."""
        return {
            name: outcome.failed
            for name, outcome in self.metrics.items()
            if outcome.failed is not None
        }

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


class StagedEvalResult(_Record):
    """``zsk eval`` of a staged run: each stage's evaluation by stage name, the routes that
    combine two stages (by ``STAGE/ROUTE+STAGE/ROUTE``), the kind of every route by its full
    name (embedding, image-generative, feature-generative, combined), and the headline among
    all of them."""

    schema_version: Literal[3] = SCHEMA_VERSION
    run: str
    stages: dict[str, EvalResult]
    combined: dict[str, RouteResult] = Field(default_factory=dict)
    kinds: dict[str, str]
    headline: Headline | None = None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def eval_path(run_dir: Path) -> Path:
    return Path(run_dir) / EVAL_FILE


def write_eval(run_dir: Path, result: EvalResult | StagedEvalResult) -> Path:
    """Write ``RUN_DIR/eval.json`` atomically."""
    return write_file(eval_path(run_dir), result.to_json())


def discard_eval(run_dir: Path) -> None:
    """Remove ``RUN_DIR/eval.json`` before a new evaluation, so that an evaluation that fails
    or is stopped never leaves the previous result looking current."""
    path = eval_path(run_dir)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise explain(exc, path, "removing") or exc from None


def read_eval(run_dir: Path) -> EvalResult | None:
    """``RUN_DIR/eval.json``, or None when there is none; a damaged file or one of another
    schema version is refused, naming the file and the fix."""
    return _read(run_dir, EvalResult)


def read_staged_eval(run_dir: Path) -> StagedEvalResult | None:
    """A staged run's ``RUN_DIR/eval.json``, as :func:`read_eval` reads a run's."""
    return _read(run_dir, StagedEvalResult)


Result = TypeVar("Result", EvalResult, StagedEvalResult)


def _read(run_dir: Path, model: type[Result]) -> Result | None:
    path = eval_path(run_dir)
    fix = f"evaluate again: zsk eval {run_dir} (it rewrites {EVAL_FILE})"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}", hint=fix) from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{path} is not JSON ({exc})", hint=fix) from None
    if not isinstance(value, dict):
        raise UserError(f"{path} holds a JSON {type(value).__name__}, not an object", hint=fix)
    version = value.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        raise UserError(
            f"{path} has schema version {version}; this zsk reads version {SCHEMA_VERSION}",
            hint=fix,
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the top level"
        raise UserError(
            f"{path} is damaged: {where}: {first['msg']} ({exc.error_count()} problem(s))",
            hint=fix,
        ) from None
