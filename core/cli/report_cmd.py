"""``zsk report``: RUN_DIR/report.md with loss curves, imagined images and the evaluation."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from zsk.core.cli.options import (
    calibrate_with_option,
    device_option,
    images_per_class_option,
    probe_steps_option,
    progress_log,
)
from zsk.core.cli.path_types import FOLDER
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.report import write_report
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import is_staged, resolve_run_dir
from zsk.core.train.device import resolve_device


@click.command()
@click.argument("run_dir", required=False, type=FOLDER)
@images_per_class_option
@probe_steps_option
@calibrate_with_option
@device_option
def report(
    run_dir: Path | None,
    images_per_class: tuple[int, ...],
    probe_steps: int,
    calibration_run: Path | None,
    device: str,
) -> None:
    """Write RUN_DIR/report.md: loss curves, imagined images per class, the evaluation table.

    The evaluation is read from RUN_DIR/eval.json when it is up to date, else run first;
    the options below serve that evaluation (defaults as zsk eval). Of a staged run, each
    stage's report goes in its folder and RUN_DIR/report.md compares every route of every
    stage and names the headline.

    \b
    Examples:
      zsk report
      zsk report runs/shapes
      zsk report runs/shapes --calibrate-with runs/shapes-validation
    """
    run_dir = resolve_run_dir(run_dir)
    options = EvalOptions(
        images_per_class=images_per_class, probe_steps=probe_steps, calibration_run=calibration_run
    )
    log = progress_log(Console(stderr=True))
    if is_staged(run_dir):
        from zsk.core.evaluate.staged_report import write_staged_report
        from zsk.core.rundir.stages import read_staged

        path = write_staged_report(read_staged(run_dir), options, resolve_device(device), log=log)
        click.echo(f"wrote {path} (and each stage's report.md)")
        return
    trained = load_trained(run_dir)
    path = write_report(trained, options, resolve_device(device), log=log)
    click.echo(f"wrote {path}")
