"""``zsk init``: a recommended starting spec for a data set, sized to its images and a budget."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from zsk.core.cli.path_types import FILE, FOLDER
from zsk.core.recommend.recipes import (
    DEFAULT_ROUTE,
    PAPER_TRUNK,
    RECOGNISER,
    ROUTES,
    run_length,
    staged,
)
from zsk.core.storage.files import write_file
from zsk.registry import UserError

#: What was measured of each route's spec (BENCHMARKS.md §6), written into its header.
MEASURED = {
    "two-stage": (
        "A recogniser, then a feature GAN over its embeddings phi(x); zsk eval reports the\n"
        "# recogniser's embedding route, the feature GAN's classifier and the two combined, and\n"
        "# names the headline routes (GZSL: validation H; ZSL: the embedding route).\n"
        "# Chosen on validation classes of six data sets zsk was never tuned on\n"
        "# (BENCHMARKS.md §6, with its test numbers beside the recogniser alone and a\n"
        "# hand-written learner at equal CPU). The paper's trunk is one line away:\n"
        "#   stages.recogniser.model.trunk.params: {PAPER_TRUNK}"
    ),
    "no-gan": (
        "The two-stage route's recogniser alone (BENCHMARKS.md §6 beside it); per CPU\n"
        "# second it processes as many real images as a hand-written learner (§4). The paper's\n"
        "# trunk is one line away:\n"
        "#   model.trunk.params: {PAPER_TRUNK}"
    ),
    "image-gan": (
        "The report's image GAN: what imagines pictures of unseen classes (zsk generate,\n"
        "# zsk translate). As a recogniser it lost to the no-gan route at equal CPU on five of\n"
        "# six zoo sets (BENCHMARKS.md §6): a GAN step costs about five recognition steps."
    ),
}


class _NoAliasDumper(yaml.SafeDumper):
    """Safe YAML without anchors and aliases: a value the recipe uses in two places is written
    out in each, so that editing one place of the spec never changes (or breaks) the other."""

    def ignore_aliases(self, data: object) -> bool:
        return True


@click.command("init")
@click.argument("data_dir", type=FOLDER)
@click.option(
    "--out",
    type=FILE,
    help="Spec file to write (default: <data folder name>.yaml here).",
)
@click.option(
    "--cpu-minutes",
    type=click.FloatRange(min=0.05),
    default=20.0,
    show_default=True,
    help="Training budget: the process CPU minutes of `zsk train` (the run and its validation "
    "run, one thread).",
)
@click.option(
    "--max-image-size",
    type=click.Choice(["32", "64", "128"]),
    default="32",
    show_default=True,
    help="Largest image size to train at (raise it on a GPU).",
)
@click.option(
    "--route",
    type=click.Choice(ROUTES),
    default=DEFAULT_ROUTE,
    show_default=True,
    help="two-stage: a recogniser, then a feature GAN over its embeddings (the default, "
    "chosen on validation classes); no-gan: the recogniser alone; image-gan: the report's "
    "image GAN, which also imagines pictures. Each is sized to the same budget.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds training and the validation run's draw of held-out classes and images.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
def init(
    data_dir: Path,
    out: Path | None,
    cpu_minutes: float,
    max_image_size: str,
    route: str,
    seed: int,
    force: bool,
) -> None:
    """Write a recommended spec for DATA_DIR (AwA2 layout or image folders).

    The image size follows the images' median side; the training length follows the budget,
    from the CPU a training step takes on this machine (a few steps are timed); the spec
    trains a validation run beside the run so that `zsk eval` reports GZSL calibrated on
    classes the networks never saw.

    \b
    Examples:
      zsk init data/mine --out mine.yaml
      zsk init data/mine --cpu-minutes 5 --out quick.yaml
      zsk init data/mine --route no-gan --out mine-recogniser.yaml
      zsk init data/mine --route image-gan --out mine-gan.yaml
    """
    out = out or Path(f"{data_dir.resolve().name}.yaml")
    if out.exists() and not force:
        raise UserError(f"{out} exists", hint="pass --force to overwrite it, or --out FILE")
    _refuse_faults(data_dir)
    spec, header, note = _sized_spec(data_dir, out.stem, route, cpu_minutes, max_image_size, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_file(out, header + yaml.dump(spec, Dumper=_NoAliasDumper, sort_keys=False, width=100))
    stage = spec["stages"]["recogniser"] if "stages" in spec else spec
    size, epochs = stage["model"]["image_size"], stage["train"]["epochs"]
    click.echo(f"wrote {out}: {route}, {size} px, {epochs} epochs")
    if note:
        click.echo(f"sized to small data: {note}", err=True)


def _sized_spec(
    data_dir: Path, name: str, route: str, cpu_minutes: float, max_image_size: str, seed: int
) -> tuple[dict, str, str]:
    """The route's spec sized to the data and the budget, its header, and what small data
    changed ("" when nothing)."""
    from zsk.core.recommend.init_spec import (
        FEATURE_STAGE_SECONDS,
        IMAGE_SIZES,
        epochs_for,
        expected_cpu_seconds,
        fit_to_data,
        image_size_for,
        median_side,
        num_attributes,
        recommended_spec,
        step_flops,
        step_seconds,
        training_images,
    )

    train = training_images(recommended_spec(data_dir, name, IMAGE_SIZES[0], route, 1, seed))
    side = median_side(train)
    size = image_size_for(side, int(max_image_size))
    images = len(train)
    first = RECOGNISER if route == "two-stage" else route  # the two-stage route's recogniser
    spec = recommended_spec(data_dir, name, size, first, epochs=1, seed=seed)
    fit = fit_to_data(spec)
    spec["train"]["batch_size"] = fit.batch_size
    if not fit.validation_run:
        del spec["validation_run"]
    flops, seconds = step_flops(spec), step_seconds(spec)
    feature_stage = FEATURE_STAGE_SECONDS if route == "two-stage" else 0.0
    epochs = epochs_for(seconds, fit, cpu_minutes * 60 - feature_stage)
    spec["train"] |= run_length(first, epochs)
    expected = expected_cpu_seconds(seconds, fit, epochs) + feature_stage
    if route == "two-stage":
        spec = staged(spec, num_attributes(spec))
    header = (
        f"# Written by `zsk init {data_dir} --route {route}`: images of median side {side} px -> "
        f"trained at {size} px;\n# {images} training images, {flops / 1e9:.2f} GFLOP per step at "
        f"batch {fit.batch_size}, {seconds * 1e3:.0f} ms of CPU per step on the machine that "
        f"wrote this: {epochs} epochs,\n# about {expected / 60:.2g} CPU minutes of one thread for "
        f"the run and its validation run (asked: {cpu_minutes:g}).\n"
        + (f"# Sized to small data: {fit.note}.\n" if fit.note else "")
        + "# Build, train and evaluate: zsk build THIS_FILE && zsk train && zsk eval\n"
        f"# {MEASURED[route].format(PAPER_TRUNK=PAPER_TRUNK)}\n"
    )
    return spec, header, fit.note


def _refuse_faults(data_dir: Path) -> None:
    """Refuse what ``zsk data check`` refuses (a class without images), as it does."""
    from zsk.core.data.check import check

    faults = check(data_dir, decode=False).faults
    if faults:
        raise UserError(
            f"{len(faults)} structural fault(s): " + "; ".join(faults),
            where=str(data_dir),
            hint="add images to those classes, or remove them from the seen and unseen class "
            f"lists (zsk data check {data_dir} lists what it reads)",
        )
