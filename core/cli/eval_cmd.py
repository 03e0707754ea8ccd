"""``zsk eval``: zero-shot and generalised zero-shot accuracy of a trained run."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from zsk.core.cli.options import (
    calibrate_with_option,
    device_option,
    images_per_class_option,
    probe_steps_option,
    progress_log,
)
from zsk.core.evaluate.evaluator import EvalOptions, evaluate
from zsk.core.evaluate.metric_plugins import parse_metric
from zsk.core.evaluate.result import EvalResult, write_eval
from zsk.core.evaluate.summary import summary_rows
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import resolve_run_dir
from zsk.core.train.device import resolve_device


def print_table(result: EvalResult, console: Console) -> None:
    table = Table(title=f"zero-shot evaluation — {result.run} at step {result.step}")
    for column in ("method", "metric", "value"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)


@click.command("eval")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
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
@click.option("--seed", default=EvalOptions.seed, show_default=True, type=int)
@device_option
def eval_command(
    run_dir: Path | None,
    as_json: bool,
    metrics: tuple[str, ...],
    images_per_class: tuple[int, ...],
    classifier_epochs: tuple[int, ...],
    probe_steps: int,
    batch_size: int,
    calibration_run: Path | None,
    seed: int,
    device: str,
) -> None:
    """Zero-shot (ZSL) and generalised zero-shot (GZSL) accuracy of a trained run.

    Embedding ZSL classifies unseen-class test images by the nearest class embedding; generative
    ZSL trains a classifier on real seen and imagined unseen images. GZSL's calibration constant
    is chosen on validation images, never on test images: on a validation run that never
    trained on some seen classes (the field's protocol): --calibrate-with, else RUN_DIR/validation
    when the spec's validation_run section built one; failing both, on pseudo-unseen classes of
    the run's own training images, which the table marks as self-calibrated. Writes
    RUN_DIR/eval.json (RUN_DIR defaults to the last build), removing the old one first.

    A metric plugin that fails is recorded in eval.json as failed with its reason, and a
    warning names it; every other number is written and the command exits 0.

    \b
    Examples:
      zsk eval
      zsk eval runs/shapes --json
      zsk eval runs/shapes --calibrate-with runs/shapes-validation
      zsk eval --metric fid
      zsk eval --metric "{type: fid, params: {weights: inception.pth}}"
    """
    trained = load_trained(resolve_run_dir(run_dir))
    console = Console(stderr=True)
    options = EvalOptions(
        images_per_class=images_per_class,
        classifier_epochs=classifier_epochs,
        probe_steps=probe_steps,
        batch_size=batch_size,
        seed=seed,
        metrics=tuple(parse_metric(text) for text in metrics),
        calibration_run=calibration_run,
    )
    result = evaluate(trained, options, resolve_device(device), log=progress_log(console))
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        print_table(result, Console())
    for name, reason in result.failed_metrics().items():
        console.print(f"warning: metric {name} failed ({reason}); eval.json records it as failed")
    path = write_eval(trained.run_dir, result)  # shown first: a failed write loses no number
    if not as_json:
        console.print(f"wrote {path}")
