"""``zsk eval`` of a staged run: every stage evaluated as a run, every route of every stage
compared, one headline chosen among them on validation classes.

Each stage is evaluated as ``zsk eval RUN_DIR/<stage>`` would (its GZSL constants chosen on its
own validation run) and its ``eval.json`` written in its folder; the staged run's ``eval.json``
holds them all, under their stage's name, and the headline: the route of any stage with the
highest GZSL H on the validation runs' held-out classes, which every stage's validation run
shares (:mod:`zsk.core.rundir.stage_training`).

A feature stage's samples are its source stage's images seen through the source's
discriminator, so the source's embedding route and the feature stage's generative route score
the same images: they are also combined (:mod:`zsk.core.evaluate.combined`), as one more route.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from zsk.core.evaluate.combined import combined_route
from zsk.core.evaluate.evaluator import evaluate_scored
from zsk.core.evaluate.headline import (
    FEATURE_GENERATIVE,
    choose_headline,
    combined_kind,
    headline_mark,
    route_kind,
)
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.result import CrossFitRecord, RouteResult, StagedEvalResult, write_eval
from zsk.core.evaluate.route_scores import RouteScores, same_images
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.stages import StagedRun
from zsk.registry import UserError


def evaluate_staged(
    staged: StagedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> StagedEvalResult:
    """Every stage of ``staged`` evaluated (each stage's eval.json written), and the headline."""
    if options.calibration_run is not None:
        raise UserError(
            f"{staged.run_dir} is a staged run: each stage calibrates on its own validation run",
            hint="leave out --calibrate-with (or evaluate one stage: zsk eval RUN_DIR/STAGE)",
        )
    trained = [(stage, load_trained(stage.run_dir)) for stage in staged.stages]  # all, first
    results, routes, scores = {}, {}, {}
    for stage, run in trained:
        log(f"stage '{stage.name}' ({run.run_dir})")
        draws = stage.spec.data is not None and bool(stage.spec.objective.generator)
        own = options if draws else dataclasses.replace(options, metrics=())
        result, scores[stage.name] = evaluate_scored(run, own, device, log)
        write_eval(stage.run_dir, result)
        results[stage.name] = result
        features = run.build.data.is_features
        routes.update(_named_routes(stage.name, result.routes, features))
    combined = _across_stages(staged, scores)
    for name, route in combined.items():
        routes[name] = (combined_kind(FEATURE_GENERATIVE), route)
    return StagedEvalResult(
        run=str(staged.run_dir),
        stages=results,
        combined=combined,
        kinds={name: kind for name, (kind, _) in routes.items()},
        headline=choose_headline(routes),
    )


def _across_stages(
    staged: StagedRun, scores: dict[str, dict[str, RouteScores]]
) -> dict[str, RouteResult]:
    """Each feature stage's generative route combined with its source stage's embedding route,
    named ``SOURCE/embedding+STAGE/generative``, where both were calibrated on the same images."""
    combined = {}
    for stage in staged.stages:
        source = stage.spec.features_from
        if source is None:
            continue
        embedding = scores[source.stage].get("embedding")
        generative = scores[stage.name].get("generative")
        if embedding is None or generative is None or not same_images(embedding, generative):
            continue
        name = f"{source.stage}/embedding+{stage.name}/generative"
        combined[name] = combined_route(embedding, generative)
    return combined


def _named_routes(
    stage: str, routes: dict[str, RouteResult], features: bool
) -> dict[str, tuple[str, RouteResult]]:
    return {f"{stage}/{name}": (route_kind(name, features), r) for name, r in routes.items()}


#: Columns of the route table of a staged evaluation (terminal and report.md).
ROUTE_COLUMNS = (
    "route",
    "kind",
    "ZSL top-1",
    "GZSL H (calibrated)",
    "validation H",
    "cross-fitted H / ZSL",
    "",
)


def route_rows(result: StagedEvalResult) -> list[tuple[str, ...]]:
    """One row per route of every stage, then per route combining two stages: its test
    numbers, its validation H and the cross-fitted numbers, a mark
    on the headline; then the routes a stage cannot take, and why."""
    every = {
        f"{stage}/{name}": route
        for stage, stage_result in result.stages.items()
        for name, route in stage_result.routes.items()
    } | result.combined
    rows: list[tuple[str, ...]] = []
    for full, route in every.items():
        calibration = route.gzsl.calibration
        rows.append(
            (
                full,
                result.kinds.get(full, "—"),
                _percent(route.zsl_top1),
                _percent(route.gzsl.h) if calibration is not None else "— (uncalibrated)",
                _percent(calibration.val_h) if calibration is not None else "—",
                _cross_fitted(route.cross_fitted),
                headline_mark(full, result.headline),
            )
        )
    for stage, stage_result in result.stages.items():
        for name, why in stage_result.unavailable.items():
            rows.append((f"{stage}/{name}", "—", "—", "—", "—", "—", why))
    return rows


def _cross_fitted(record: CrossFitRecord | None) -> str:
    return "—" if record is None else f"{_percent(record.h)} / {_percent(record.zsl_top1)}"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"
