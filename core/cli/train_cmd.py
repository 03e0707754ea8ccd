"""``zsk train``: train a built run, on CUDA when present, resumable, on one or more processes."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zsk.core.cli.options import device_option
from zsk.core.cli.path_types import ANY_PATH

if TYPE_CHECKING:
    from zsk.core.train.loop import TrainResult


def _launch(nproc: int, arguments: list[str]) -> None:
    """Start ``nproc`` replicas with torch's launcher (torchrun) and exit with its status.

    The launcher and its workers run with Python's safe path (``-P``, ``PYTHONSAFEPATH``), so
    the working folder is not on their import path: a module or package metadata there is
    never imported."""
    command = [
        sys.executable,
        "-P",
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "zsk.core.cli.train_cmd",
        *arguments,
    ]
    sys.exit(subprocess.call(command, env={**os.environ, "PYTHONSAFEPATH": "1"}))


def _train_validation_run(run_dir: Path, device: str, layout) -> None:
    """Train the run's validation run (spec section ``validation_run``) to its spec's length
    first, continuing it when interrupted before; a finished one is left as it is."""
    from zsk.core.rundir.directory import load_run
    from zsk.core.train.checkpoint import find_latest
    from zsk.core.train.loop import Trainer
    from zsk.core.train.signals import stop_on_signals

    latest = find_latest(run_dir)
    trainer = Trainer(
        load_run(run_dir), run_dir, device=device, resume=latest is not None, layout=layout
    )
    if latest is not None and int(latest.stem.rsplit("-", 1)[-1]) >= trainer.total_steps:
        return
    with stop_on_signals() as stop:
        result = trainer.fit(stop)
    if layout.is_main:
        click.echo(f"trained the validation run {run_dir} to step {result.step}")


def _train_stages(run_dir: Path, device: str, resume: bool, layout, length_given: bool) -> None:
    """Train every stage of a staged run in order, features extracted in between."""
    if length_given:
        raise click.UsageError(
            "a staged run trains each stage to its spec's length; set it in the spec or at "
            "build time (--set stages.NAME.train.steps=N), not with --steps/--epochs"
        )
    from zsk.core.rundir.stage_training import train_staged
    from zsk.core.rundir.stages import read_staged
    from zsk.core.train.signals import TrainingInterrupted, stop_on_signals

    def say(text: str) -> None:
        click.echo(text, err=True)

    try:
        with stop_on_signals() as stop:
            results = train_staged(
                read_staged(run_dir),
                device=device,
                resume=resume,
                layout=layout,
                stop=stop,
                say=say,
            )
    except TrainingInterrupted as exc:
        click.echo(f"{exc}; continue with: zsk train {run_dir} --resume", err=True)
        sys.exit(exc.exit_code)
    for result in results:
        done = "trained" if result.trained else "already trained"
        click.echo(f"{done} {result.run_dir} to step {result.step}")


@click.command()
@click.argument("run_dir", required=False, type=ANY_PATH)
@click.option("--steps", type=click.IntRange(min=1), help="Train until step N in total.")
@click.option("--epochs", type=click.IntRange(min=1), help="Train for E passes over the images.")
@device_option
@click.option("--resume", is_flag=True, help="Continue from the run's newest checkpoint.")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Data-parallel processes on this machine (launched through torchrun).",
)
def train(
    run_dir: Path | None,
    steps: int | None,
    epochs: int | None,
    device: str,
    resume: bool,
    nproc: int,
) -> None:
    """Train a built run (the last `zsk build` when RUN_DIR is left out).

    A run whose spec has a validation_run section trains RUN_DIR/validation first (to its
    spec's length; --steps and --epochs apply to the run itself). A staged run trains its
    stages in order, each to its spec's length (validation run first), extracting a feature
    stage's features from its source stage in between; --resume continues at whichever stage
    stopped. Checkpoints go to
    RUN_DIR/checkpoints, metrics to RUN_DIR/metrics.jsonl, sample grids to RUN_DIR/samples
    (latest.png is the newest). Ctrl-C or SIGTERM finishes the current step and writes a
    checkpoint; continue with --resume. --steps counts from the run's start, so a
    resumed run with --steps N stops at step N.

    \b
    Examples:
      zsk train
      zsk train runs/shapes --steps 2000 --device cpu
      zsk train runs/shapes --resume
      zsk train runs/shapes --nproc 2
      torchrun --nproc-per-node 2 -m zsk.core.cli.train_cmd runs/shapes
    """
    if steps is not None and epochs is not None:
        raise click.UsageError("give --steps or --epochs, not both")
    if nproc > 1:
        _launch(nproc, _worker_arguments(run_dir, device, steps, epochs, resume))
    from zsk.core.rundir.directory import is_staged, resolve_run_dir
    from zsk.core.train.distributed import from_environment

    run_dir = resolve_run_dir(run_dir)
    layout = from_environment()
    if is_staged(run_dir):
        _train_stages(run_dir, device, resume, layout, steps is not None or epochs is not None)
        return
    result = _train_run(run_dir, steps, epochs, device, resume, layout)
    if layout.is_main:
        _say_trained(run_dir, result)


def _worker_arguments(
    run_dir: Path | None, device: str, steps: int | None, epochs: int | None, resume: bool
) -> list[str]:
    """``zsk train``'s arguments for each process torchrun starts (all but ``--nproc``)."""
    arguments = [str(run_dir)] if run_dir is not None else []
    arguments += [f"--device={device}"]
    arguments += [f"--steps={steps}"] if steps else []
    arguments += [f"--epochs={epochs}"] if epochs else []
    return arguments + (["--resume"] if resume else [])


def _train_run(
    run_dir: Path, steps: int | None, epochs: int | None, device: str, resume: bool, layout
) -> TrainResult:
    """Train a one-stage run, its validation run first, holding the run's lock throughout (a
    build must not rewrite the run while its validation run trains)."""
    from zsk.core.rundir.directory import load_run
    from zsk.core.rundir.validation_run import companion
    from zsk.core.storage.runlock import run_lock
    from zsk.core.train.distributed import shutdown
    from zsk.core.train.loop import Trainer
    from zsk.core.train.signals import TrainingInterrupted, stop_on_signals

    held = run_lock(run_dir, "zsk train", shared_within=True) if layout.is_main else nullcontext()
    try:
        with held:
            validation = companion(run_dir)
            if validation is not None:
                _train_validation_run(validation, device, layout)
            trainer = Trainer(
                load_run(run_dir),
                run_dir,
                steps=steps,
                epochs=epochs,
                device=device,
                resume=resume,
                layout=layout,
            )
            with stop_on_signals() as stop:
                return trainer.fit(stop)
    except TrainingInterrupted as exc:
        if layout.is_main:
            click.echo(f"{exc}; continue with: zsk train {run_dir} --resume", err=True)
        sys.exit(exc.exit_code)
    finally:
        shutdown(layout)


def _say_trained(run_dir: Path, result: TrainResult) -> None:
    skipped = result.skipped_steps
    note = f" ({skipped} steps skipped: non-finite loss)" if skipped else ""
    click.echo(f"trained {run_dir} to step {result.step}{note}")
    click.echo(f"checkpoint: {result.checkpoint}")
    grid = run_dir / "samples" / "latest.png"
    if grid.is_file():  # a feature run draws no sample grids
        click.echo(f"samples:    {grid}")


if __name__ == "__main__":  # each process torchrun starts for `zsk train --nproc N`
    from zsk.core.cli.main import cli

    cli(["train", *sys.argv[1:]], prog_name="zsk")
