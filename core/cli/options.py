"""Options several commands share, declared once so that each reads and defaults the same; and
the progress log of the long ones."""

from __future__ import annotations

from collections.abc import Callable

import click
from rich.console import Console

from zsk.core.cli.path_types import FOLDER
from zsk.core.evaluate.options import EvalOptions
from zsk.core.rundir.directory import resolve_run_dir
from zsk.core.spec.sections import MAX_SEED
from zsk.core.train.device import DEVICE_CHOICES

device_option = click.option(
    "--device",
    type=click.Choice(DEVICE_CHOICES),
    default="auto",
    show_default=True,
    help="auto: CUDA when present, else the CPU.",
)

calibrate_with_option = click.option(
    "--calibrate-with",
    "calibration_run",
    type=FOLDER,
    callback=lambda ctx, param, value: resolve_run_dir(value) if value else None,
    help="Validation run (same spec plus a holdout section) that chooses the GZSL calibration.",
)

images_per_class_option = click.option(
    "--images-per-class",
    multiple=True,
    type=click.IntRange(min=2),
    help="Samples imagined per unseen class for generative ZSL; repeat it to have the "
    "evaluation choose on validation classes [default: 64 for an image run; 100, 300 and 1200 "
    "for a feature run].",
)

probe_steps_option = click.option(
    "--probe-steps",
    default=EvalOptions.probe_steps,
    show_default=True,
    type=click.IntRange(min=1),
    help="Training steps of the attribute probe.",
)


def progress_log(console: Console) -> Callable[[str], None]:
    """A ``log`` for long commands: each message dimmed on ``console`` (stderr), apart from the
    result on stdout."""
    return lambda message: console.print(f"[dim]{message}[/dim]")


def seed_option(help_text: str = "Random seed.", default: int = 0):
    """``--seed``: a non-negative 64-bit seed (a larger one is refused with the range)."""
    return click.option(
        "--seed",
        type=click.IntRange(0, MAX_SEED),
        default=default,
        show_default=True,
        help=help_text,
    )
