"""``zsk report`` of a staged run: each stage's report in its folder, and RUN_DIR/report.md with
the headline route and every route of every stage beside it, linking to the stages' reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from zsk.core.evaluate.headline import headline_sentence
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.report import REPORT_FILE, write_report
from zsk.core.evaluate.result import StagedEvalResult, read_staged_eval, write_eval
from zsk.core.evaluate.staged import ROUTE_COLUMNS, evaluate_staged, route_rows
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.stages import StagedRun
from zsk.core.storage.files import write_file


def staged_evaluation(
    staged: StagedRun, options: EvalOptions, device: torch.device, log: Callable[[str], None]
) -> StagedEvalResult:
    """The staged run's eval.json when every stage's part is of its newest checkpoint, else a
    new evaluation (written)."""
    result = read_staged_eval(staged.run_dir)
    steps = {stage.name: load_trained(stage.run_dir).step for stage in staged.stages}
    current = result is not None and {n: r.step for n, r in result.stages.items()} == steps
    if result is not None and current:
        return result
    log("eval.json is missing or older than a stage's checkpoint: evaluating")
    result = evaluate_staged(staged, options, device, log)
    write_eval(staged.run_dir, result)
    return result


def write_staged_report(
    staged: StagedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write every stage's report and the staged run's report.md; its path."""
    result = staged_evaluation(staged, options, device, log)
    for stage in staged.stages:
        log(f"stage '{stage.name}': its report")
        write_report(load_trained(stage.run_dir), options, device, log)
    names = " → ".join(stage.name for stage in staged.stages)
    lines = [f"# zsk report: {staged.spec.name} (stages {names})", ""]
    headline = result.headline
    if headline is not None:
        lines += [f"**Headline**: {headline_sentence(headline)}", ""]
    lines += [
        "## Every route of every stage",
        "",
        "| " + " | ".join(ROUTE_COLUMNS) + " |",
        "|" + " --- |" * len(ROUTE_COLUMNS),
        *("| " + " | ".join(row) + " |" for row in route_rows(result)),
        "",
        "Accuracies are per-class averages on the test images; the validation H is each "
        "route's GZSL H on its stage's validation run, whose held-out classes every stage "
        "shares; the cross-fitted numbers are its H and ZSL top-1 there, each fold of images "
        "predicted with the settings it chose on the others. The GZSL headline is the route "
        "of highest validation H, the ZSL headline the recogniser's embedding route. "
        "Full numbers: `eval.json`.",
        "",
        "## Stages",
        "",
        *(f"- [{s.name}]({s.name}/{REPORT_FILE}): {s.run_dir}" for s in staged.stages),
        "",
    ]
    return write_file(staged.run_dir / REPORT_FILE, "\n".join(lines))
