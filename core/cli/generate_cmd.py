"""``zsk generate``: pictures of classes (or of given attributes) from a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from zsk.core.cli.options import device_option, seed_option
from zsk.core.cli.path_types import FOLDER
from zsk.core.cli.picture_files import PICTURES_DIR, out_option, slug
from zsk.core.evaluate.pictures import (
    attribute_rows,
    generate_images,
    refuse_features,
    save_grid,
)
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import load_run, resolve_run_dir
from zsk.core.rundir.stages import picture_run
from zsk.core.storage.files import image_format
from zsk.core.train.device import resolve_device


@click.command()
@click.argument("run_dir", required=False, type=FOLDER)
@click.option(
    "--class",
    "class_names",
    multiple=True,
    metavar="NAME",
    help="A class to draw, seen or unseen (repeat for several).",
)
@click.option(
    "--attributes",
    "edits",
    metavar="PRED=V,...",
    help="Predicate values: edits of each --class row, or of zeros without --class.",
)
@click.option(
    "--n",
    "per_row",
    default=16,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Images per class.",
)
@seed_option("Seed of the noise the pictures are drawn with.")
@out_option("generate")
@device_option
def generate(
    run_dir: Path | None,
    class_names: tuple[str, ...],
    edits: str | None,
    per_row: int,
    seed: int,
    out: Path | None,
    device: str,
) -> None:
    """Imagine images of classes, seen or unseen, or of an edited attribute vector.

    One row per class, --n images per row. Of a staged run, the last image stage that trains
    a generator draws them.

    \b
    Examples:
      zsk generate --class zebra --class "polar bear"
      zsk generate --class horse --attributes stripes=1 --out striped-horse.png
      zsk generate --attributes black=1,white=1,stripes=1 --n 8
    """
    if out is not None:
        image_format(out)  # before the networks run
    run_dir = picture_run(resolve_run_dir(run_dir))
    build = load_run(run_dir)
    refuse_features(build.gan, "generate")
    trained = load_trained(run_dir, build)
    data = trained.build.data
    rows, captions = attribute_rows(data, list(class_names), edits)
    images = generate_images(trained.build.gan, data, rows, per_row, seed, resolve_device(device))
    out = out or trained.run_dir / PICTURES_DIR / f"generate-{slug('-'.join(captions))}.png"
    save_grid(images, per_row, out, captions)
    click.echo(f"rows: {', '.join(captions)}")
    click.echo(f"wrote {out}")
