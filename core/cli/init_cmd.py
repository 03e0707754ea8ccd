"""``zsk init``: a recommended starting spec for a data set, sized to its images and a budget."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from zsk.core.storage.files import write_file
from zsk.registry import UserError

#: What the evaluation zoo measured of this spec (BENCHMARKS.md §6), said where it is used.
CAUTION = (
    "Measured on six data sets zsk was never tuned on (BENCHMARKS.md §6), at equal CPU time and\n"
    "# a small budget (0.4 CPU minutes): a GAN step costs about four steps of the same networks\n"
    "# without the GAN, and the GAN's terms do not make a step better on average, so the\n"
    "# --no-gan spec (sized to the same budget) recognises unseen classes better on most sets,\n"
    "# and a plain learner without a GAN better still. With four times the budget the GAN had\n"
    "# the higher GZSL H on two of three sets (one seed). Train --no-gan beside this spec and\n"
    "# compare their validation runs; the GAN is what imagines images of unseen classes."
)


@click.command("init")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Spec file to write (default: <data folder name>.yaml here).",
)
@click.option(
    "--cpu-minutes",
    type=click.FloatRange(min=0.05),
    default=20.0,
    show_default=True,
    help="Training budget of the run and its validation run together, in CPU minutes of one core.",
)
@click.option(
    "--max-image-size",
    type=click.Choice(["32", "64", "128"]),
    default="32",
    show_default=True,
    help="Largest image size to train at (raise it on a GPU).",
)
@click.option(
    "--no-gan",
    is_flag=True,
    help="The same networks without the GAN, sized to the same budget (about 4x the steps).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
def init(
    data_dir: Path,
    out: Path | None,
    cpu_minutes: float,
    max_image_size: str,
    no_gan: bool,
    seed: int,
    force: bool,
) -> None:
    """Write a recommended spec for DATA_DIR (AwA2 layout or image folders).

    The image size follows the images' median side; the training length follows the budget,
    from the FLOPs of a training step; the spec trains a validation run beside the run so
    that `zsk eval` reports GZSL calibrated on classes the networks never saw.

    \b
    Examples:
      zsk init data/mine --out mine.yaml
      zsk init data/mine --cpu-minutes 5 --out quick.yaml
      zsk init data/mine --no-gan --out mine-no-gan.yaml
    """
    from zsk.core.recommend.init_spec import (
        IMAGE_SIZES,
        epochs_for,
        image_size_for,
        median_side,
        recommended_spec,
        step_flops,
        training_images,
    )

    out = out or Path(f"{data_dir.resolve().name}.yaml")
    if out.exists() and not force:
        raise UserError(f"{out} exists", hint="pass --force to overwrite it, or --out FILE")
    name = out.stem
    train = training_images(recommended_spec(data_dir, name, IMAGE_SIZES[0], True, 1, seed))
    side = median_side(train)
    size = image_size_for(side, int(max_image_size))
    images = len(train)
    flops = step_flops(recommended_spec(data_dir, name, size, not no_gan, epochs=1, seed=seed))
    epochs = epochs_for(flops, images, cpu_minutes * 60)
    spec = recommended_spec(data_dir, name, size, gan=not no_gan, epochs=epochs, seed=seed)
    header = (
        f"# Written by `zsk init {data_dir}`: images of median side {side} px -> trained at "
        f"{size} px;\n# {images} training images, {flops / 1e9:.2f} GFLOP per step at batch "
        f"{spec['train']['batch_size']}: {epochs} epochs fit {cpu_minutes:g} CPU minutes for the "
        "run and its validation run.\n# Build, train and evaluate: zsk build THIS_FILE && "
        "zsk train && zsk eval\n"
        f"# {CAUTION}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_file(out, header + yaml.safe_dump(spec, sort_keys=False, width=100))
    click.echo(f"wrote {out}: {size} px, {epochs} epochs" + (" (no GAN)" if no_gan else ""))
    if not no_gan:
        click.echo(CAUTION.replace("\n# ", " "), err=True)
