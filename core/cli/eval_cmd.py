"""``zsk eval``: zero-shot and generalised zero-shot accuracy of a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from zsk.core.cli.options import (
    calibrate_with_option,
    device_option,
    images_per_class_option,
    probe_steps_option,
    progress_log,
    seed_option,
)
from zsk.core.cli.path_types import FOLDER
from zsk.core.evaluate.evaluator import evaluate
from zsk.core.evaluate.headline import headline_sentence
from zsk.core.evaluate.metric_plugins import parse_metric
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.result import EvalResult, write_eval
from zsk.core.evaluate.summary import summary_rows
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import is_staged, resolve_run_dir
from zsk.core.train.device import resolve_device


def print_table(result: EvalResult, console: Console, title: str = "zero-shot evaluation") -> None:
    table = Table(title=f"{title} — {result.run} at step {result.step}")
    for column in ("method", "metric", "value"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)


def _eval_stages(run_dir: Path, options, device, as_json: bool, console: Console) -> None:
    """Evaluate every stage of a staged run; print each stage's table, the routes, the
    headline; write every eval.json."""
    from zsk.core.evaluate.staged import ROUTE_COLUMNS, evaluate_staged, route_rows
    from zsk.core.rundir.stages import read_staged

    result = evaluate_staged(read_staged(run_dir), options, device, log=progress_log(console))
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        out = Console()
        for stage, stage_result in result.stages.items():
            print_table(stage_result, out, title=f"stage '{stage}'")
        routes = Table(title=f"every route of {run_dir}")
        for column in ROUTE_COLUMNS:
            routes.add_column(column)
        for row in route_rows(result):
            routes.add_row(*row)
        out.print(routes)
        if result.headline is not None:
            out.print(f"headline: {headline_sentence(result.headline)}")
    path = write_eval(run_dir, result)
    if not as_json:
        console.print(f"wrote {path} (and each stage's eval.json)")


@click.command("eval")
@click.argument("run_dir", required=False, type=FOLDER)
@click.option("--json", "as_json", is_flag=True, help="Print eval.json's object on stdout only.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="METRIC",
    help="Also compute a metric plugin: its name, or {type: NAME, params: {...}} (repeatable; "
    "`zsk plugins --kind metric`).",
)
@images_per_class_option
@click.option(
    "--classifier-epochs",
    multiple=True,
    type=click.IntRange(min=1),
    help="Epochs of generative ZSL's softmax classifier; repeat it to have the evaluation choose "
    "on validation classes [default: 30 for an image run; 10 and 30 for a feature run].",
)
@probe_steps_option
@click.option(
    "--batch-size", default=EvalOptions.batch_size, show_default=True, type=click.IntRange(min=1)
)
@calibrate_with_option
@click.option(
    "--unseen-as-distractors",
    is_flag=True,
    help="Let the data set's unseen classes compete, by their attributes, on the validation "
    "images where GZSL's constants are chosen (docs/method.md).",
)
@click.option(
    "--carry-constant/--no-carry-constant",
    default=EvalOptions.carry_constant,
    show_default=True,
    help="Carry every route's GZSL constant from the validation run's scale into the run's "
    "own (the same share of training images of the classes both trained on sent unseen), "
    "or apply it as the validation run chose it, the field's protocol (docs/method.md).",
)
@click.option(
    "--mirror-average/--no-mirror-average",
    default=EvalOptions.mirror_average,
    show_default=True,
    help="In the embedding route, average each image's embedding with its mirror image's, "
    "for a run trained on mirrored images (train.hflip); or use each image's own.",
)
@seed_option("Seed of what evaluation draws.", default=EvalOptions.seed)
@device_option
def eval_command(
    run_dir: Path | None, as_json: bool, metrics: tuple[str, ...], device: str, **knobs: Any
) -> None:
    """Zero-shot (ZSL) and generalised zero-shot (GZSL) accuracy of a trained run.

    Embedding ZSL classifies unseen-class test images by the nearest class embedding; generative
    ZSL trains a classifier on real seen and imagined unseen images. GZSL's calibration constant
    is chosen on validation images, never on test images: on a validation run that never
    trained on some seen classes (the field's protocol): --calibrate-with, else RUN_DIR/validation
    when the spec's validation_run section built one; failing both, on pseudo-unseen classes of
    the run's own training images (marked self-calibrated). A validation run's constant is
    carried into the run's scale (--no-carry-constant: as chosen). Writes RUN_DIR/eval.json
    (RUN_DIR defaults to the last build), removing the old one first.

    Every route the run can take is reported (embedding; generative: imagined images, or
    generated features), and the headline routes named, never on test data: for GZSL the
    highest H on the validation classes, for ZSL the embedding route (without one, the highest
    cross-fitted top-1 there). A staged run is evaluated stage by stage (each stage's eval.json
    in its folder), its headline chosen among every stage's routes.

    A metric plugin that fails is recorded as failed in eval.json and named in a warning.

    \b
    Examples:
      zsk eval
      zsk eval runs/shapes --json
      zsk eval runs/shapes --calibrate-with runs/shapes-validation
      zsk eval --metric fid
      zsk eval --metric "{type: fid, params: {weights: inception.pth}}"
    """
    run_dir = resolve_run_dir(run_dir)
    console = Console(stderr=True)
    # every other option is the EvalOptions field of its name
    options = EvalOptions(metrics=tuple(parse_metric(text) for text in metrics), **knobs)
    if is_staged(run_dir):
        _eval_stages(run_dir, options, resolve_device(device), as_json, console)
        return
    trained = load_trained(run_dir)
    result = evaluate(trained, options, resolve_device(device), log=progress_log(console))
    _show_then_write(trained.run_dir, result, as_json, console)


def _show_then_write(run_dir: Path, result: EvalResult, as_json: bool, console: Console) -> None:
    """Print the result (a table, or the JSON object), warn of failed metric plugins, then
    write eval.json: a write that fails (a full or read-only folder) loses no number."""
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        print_table(result, Console())
    for name, reason in result.failed_metrics().items():
        console.print(f"warning: metric {name} failed ({reason}); eval.json records it as failed")
    path = write_eval(run_dir, result)
    if not as_json:
        console.print(f"wrote {path}")
