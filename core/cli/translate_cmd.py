"""``zsk translate``: an image translated towards another class by a trained run."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from zsk.core.cli.options import device_option, seed_option
from zsk.core.cli.path_types import ANY_PATH
from zsk.core.cli.picture_files import PICTURES_DIR, out_option, slug
from zsk.core.evaluate.pictures import (
    attribute_rows,
    read_image,
    refuse_features,
    refuse_non_translating,
    save_grid,
    translate_image,
)
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.directory import load_run, resolve_run_dir
from zsk.core.rundir.stages import picture_run
from zsk.core.storage.files import image_format
from zsk.core.train.device import resolve_device
from zsk.registry import UserError


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="[RUN_DIR] IMAGE", type=ANY_PATH)
@click.option("--to", "target", metavar="CLASS", help="The class to translate the image to.")
@click.option(
    "--attributes",
    "edits",
    metavar="PRED=V,...",
    help="Predicate values: edits of the --to class's row, or of zeros without --to.",
)
@seed_option("Seed of the noise the pictures are drawn with.")
@out_option("translate")
@device_option
def translate(
    paths: tuple[Path, ...],
    target: str | None,
    edits: str | None,
    seed: int,
    out: Path | None,
    device: str,
) -> None:
    """Translate an image towards a class or attributes: source, reconstruction, translation.

    Only a translating generator (encoder_decoder) can do this. The reconstruction is
    G(D_enc(x)), shown when the discriminator has a reconstruction_feature head. Of a staged
    run, the last image stage that trains a generator translates.

    \b
    Examples:
      zsk translate photo.jpg --to zebra
      zsk translate runs/awa2 horse.jpg --to horse --attributes stripes=1 --out striped.png
    """
    if len(paths) > 2:
        raise click.UsageError("give at most a run directory and one image")
    run_dir, image = (None, paths[0]) if len(paths) == 1 else paths
    if out is not None:
        image_format(out)  # before the networks run
    run_dir = picture_run(resolve_run_dir(run_dir))
    build = load_run(run_dir)
    refuse_features(build.gan, "translate")
    refuse_non_translating(build.gan)  # a property of the spec: say so before asking to train
    trained = load_trained(run_dir, build)
    gan = trained.build.gan
    if target is None and edits is None:
        raise UserError("say what to translate to", hint="use --to CLASS and/or --attributes")
    data = trained.build.data
    rows, captions = attribute_rows(data, [target] if target else [], edits, where="--to")
    source = read_image(image, gan.dims.image_size)
    reconstruction, translation = translate_image(
        gan, source, rows[0], seed, resolve_device(device)
    )
    panels = [source] + ([reconstruction] if reconstruction is not None else []) + [translation]
    out = (
        out
        or trained.run_dir
        / PICTURES_DIR
        / f"translate-{slug(image.stem)}-to-{slug(captions[0])}.png"
    )
    save_grid(torch.cat(panels), len(panels), out)
    shown = (
        "source | reconstruction | translation"
        if reconstruction is not None
        else ("source | translation (no reconstruction_feature head, so no reconstruction)")
    )
    click.echo(f"{shown} -> {captions[0]}")
    click.echo(f"wrote {out}")
