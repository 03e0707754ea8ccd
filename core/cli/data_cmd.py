"""``zsk data``: write the embedded data set, check a data set, crop it, prepare the fast path."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from zsk.core.cli.path_types import FILE, FOLDER
from zsk.core.data.folder_formats import AUTO
from zsk.core.data.synth import DEFAULT_CLASSES, DEFAULT_UNSEEN
from zsk.registry import UserError

_FORMAT = click.option(
    "--format",
    "fmt",
    default=AUTO,
    show_default=True,
    metavar="NAME",
    help="Data set that reads the folder: any registered one with a root parameter (awa2, "
    "image_folder, a plugin's; `zsk plugins --kind dataset`); auto picks by its marker files.",
)


@click.group()
def data() -> None:
    """Data sets: the embedded default, checks, the report's crop, the fast path.

    \b
    Examples:
      zsk data synth data/shapes
      zsk data check data/shapes
      zsk data prepare data/shapes --size 32
      zsk data crop data/AwA2 data/AwA2-cropped --weights maskrcnn.pth
      zsk data features data/AwA2 --backbone resnet101 --weights r101.safetensors --out f/
      zsk data apy data/aPY data/aPY-objects
    """


@data.command()
@click.argument("out", type=FOLDER)
@click.option("--classes", default=DEFAULT_CLASSES, show_default=True, help="Number of classes.")
@click.option(
    "--unseen", default=DEFAULT_UNSEEN, show_default=True, help="How many of them are unseen."
)
@click.option("--images-per-class", default=60, show_default=True, help="Images per class.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same data set.")
@click.option("--min-size", default=40, show_default=True, help="Smallest image side, px.")
@click.option("--max-size", default=72, show_default=True, help="Largest image side, px.")
@click.option("--force", is_flag=True, help="Replace a data set already in OUT.")
def synth(out: Path, force: bool, **drawing: int) -> None:
    """Write the embedded default data set (drawn shapes) to OUT in the AwA2 layout."""
    from zsk.core.data.synth import synthesize

    if out.exists() and any(out.iterdir()):
        if not force:
            raise UserError(
                "folder is not empty", where=str(out), hint="choose another folder or add --force"
            )
        if not (out / "synth.json").is_file():
            raise UserError(
                "--force replaces only a data set written by `zsk data synth`",
                where=str(out),
                hint="this folder has no synth.json; choose another folder",
            )
        shutil.rmtree(out)
    started = time.perf_counter()
    summary = synthesize(out, **drawing)  # the options are synthesize's own, by name
    seconds = time.perf_counter() - started
    click.echo(
        f"wrote {len(summary.classes)} classes ({len(summary.seen)} seen, "
        f"{len(summary.unseen)} unseen), {summary.predicates} predicates and {summary.images} "
        f"images to {out} in {seconds:.1f} s"
    )
    override = "" if out == Path("data/shapes") else f" --set data.params.root={out}"
    click.echo(f"next: zsk build examples/shapes.yaml{override}")


@data.command()
@click.argument("directory", type=FOLDER)
@_FORMAT
@click.option("--decode/--no-decode", default=True, show_default=True, help="Decode every image.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(directory: Path, fmt: str, decode: bool, as_json: bool) -> None:
    """Read DIRECTORY as training would; report what is there; exit 2 on a structural fault."""
    from zsk.core.data.check import check as run_check

    report = run_check(directory, fmt, decode=decode, progress=sys.stderr.isatty())
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)
    if report.faults:
        raise UserError(
            f"{len(report.faults)} structural fault(s): " + "; ".join(report.faults),
            where=str(directory),
        )


def _print_report(report) -> None:
    d = report.as_dict()
    console = Console(highlight=False)
    low, high = d["attributes_range"]
    console.print(f"[bold]{d['root']}[/bold] ({d['format']} layout)")
    console.print(
        f"  classes {d['classes']}: {len(d['seen'])} seen, {len(d['unseen'])} unseen, "
        f"{len(d['unused'])} in neither split; split disjoint, every listed class known"
    )
    rows, cols = d["attributes_shape"]
    console.print(f"  attribute matrix {rows}×{cols}, values {low:.3g} … {high:.3g}")
    images = d["images"]
    what = "images" if d["features"] is None else "features"
    console.print(
        f"  {what}: {images['train']} train, {images['test_seen']} test seen, "
        f"{images['test_unseen']} test unseen"
    )
    if d["features"] is not None:
        features = d["features"]
        console.print(
            f"  feature matrix {features['count']}×{features['dim']} float32, every value finite"
        )
    table = Table("class", "split", what)
    seen = set(d["seen"])
    for name, count in d["images_per_class"].items():
        table.add_row(name, "seen" if name in seen else "unseen", str(count))
    console.print(table)
    if report.undecodable:
        shown = ", ".join(d["undecodable"][:5])
        console.print(f"  [yellow]{len(report.undecodable)} undecodable file(s)[/yellow]: {shown}")
    elif report.decoded:
        console.print("  every image decodes")


@data.command()
@click.argument("src", type=FOLDER)
@_FORMAT
@click.option("--size", default=128, show_default=True, help="Side of the stored squares, px.")
@click.option("--workers", type=int, default=None, help="Decoding threads [all cores].")
def prepare(src: Path, fmt: str, size: int, workers: int | None) -> None:
    """Decode and resize every image once into SRC/.zsk-prepared/ for fast training."""
    from zsk.core.data.folder_formats import load_folder
    from zsk.core.data.prepared import prepare as run_prepare

    if not 8 <= size <= 1024:
        raise UserError(f"--size must be between 8 and 1024, got {size}")
    name, data_set = load_folder(src, fmt)
    if data_set.is_features:
        raise UserError(
            f"'{name}' is a feature data set: its features are read memory-mapped as they are, "
            "so there are no images to prepare",
            where=str(src),
            hint="train on it directly; `zsk data check` reports what it holds",
        )
    started = time.perf_counter()
    result = run_prepare(data_set, size, workers=workers, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - started
    click.echo(
        f"prepared {result.images} images at {size}×{size} in {seconds:.1f} s -> {result.array}"
        + (f" ({len(result.skipped)} undecodable skipped)" if result.skipped else "")
    )


@data.command()
@click.argument("src", type=FOLDER)
@click.argument("out", type=FOLDER)
@click.option(
    "--weights",
    type=FILE,
    help="Mask R-CNN ResNet-50 FPN COCO weights (.pth or .safetensors) [torch hub cache].",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--margin", default=0.1, show_default=True, help="Margin around the animal.")
@click.option("--min-score", default=0.5, show_default=True, help="Detection confidence.")
@click.option("--min-size", default=800, show_default=True, help="Detector's input side, px.")
@click.option("--batch-size", default=4, show_default=True, help="Images per detector call.")
def crop(
    src: Path,
    out: Path,
    weights: Path | None,
    device: str,
    margin: float,
    min_score: float,
    min_size: int,
    batch_size: int,
) -> None:
    """Crop every image of SRC to its main animal (Mask R-CNN) and write the data set to OUT."""
    from zsk.core.data.crop import build_detector, crop_dataset, find_weights

    if not src.is_dir():
        raise UserError("source folder not found", where=str(src))
    model = build_detector(find_weights(weights), min_size=min_size)
    result = crop_dataset(
        src,
        out,
        model,
        device=device,
        margin=margin,
        min_score=min_score,
        batch_size=batch_size,
        progress=sys.stderr.isatty(),
    )
    click.echo(
        f"cropped {result.written} images to {out} ({result.centred} centre-cropped: no "
        f"confident detection; {len(result.skipped)} undecodable skipped)"
    )


@data.command()
@click.argument("src", type=FOLDER)
@click.option("--out", type=FOLDER, required=True, help="Feature folder to write (or resume).")
@click.option("--backbone", metavar="NAME", help="timm architecture, e.g. resnet101.")
@click.option(
    "--weights",
    type=FILE,
    help="The backbone's local .safetensors weights (zsk never downloads).",
)
@click.option(
    "--run",
    "run_dir",
    type=FOLDER,
    help="A trained zsk image run: features from its discriminator instead of a backbone.",
)
@click.option(
    "--layer",
    type=click.Choice(["trunk", "embedding"]),
    default="trunk",
    show_default=True,
    help="With --run: the trunk's features averaged over positions, or the embedding φ(x).",
)
@_FORMAT
@click.option("--image-size", type=int, help="Backbone input side, px [the backbone's own].")
@click.option("--batch-size", default=32, show_default=True, help="Images per forward pass.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, ...")
@click.option("--workers", type=int, default=None, help="Decoding threads [all cores].")
@click.option("--force", is_flag=True, help="Replace features of another extraction in OUT.")
def features(
    src: Path,
    out: Path,
    backbone: str | None,
    weights: Path | None,
    run_dir: Path | None,
    layer: str,
    fmt: str,
    image_size: int | None,
    batch_size: int,
    device: str,
    workers: int | None,
    force: bool,
) -> None:
    """Pooled features of every image of SRC, from a timm backbone or a trained run, written
    to OUT as a feature folder (resumable: run the same command again after an interruption)."""
    import torch

    from zsk.core.data.extract import extract
    from zsk.core.data.extractors import timm_extractor
    from zsk.core.data.folder_formats import load_folder
    from zsk.core.rundir.run_features import run_extractor

    _check_feature_source(backbone, weights, run_dir, image_size, batch_size)
    name, data_set = load_folder(src, fmt)
    target = torch.device(device)
    if backbone is not None:
        extractor = timm_extractor(backbone, weights, image_size, target)
    else:
        extractor = run_extractor(run_dir, layer, target)
    started = time.perf_counter()
    result = extract(
        data_set,
        out,
        extractor,
        source_format=name,
        batch_size=batch_size,
        workers=workers,
        progress=sys.stderr.isatty(),
        force=force,
    )
    seconds = time.perf_counter() - started
    if result.already_complete:
        click.echo(f"{out} already holds these {result.count} features ({result.dim}-d)")
        return
    resumed = f", resumed at row {result.resumed_at}" if result.resumed_at else ""
    skipped = f", {len(result.skipped)} undecodable images skipped" if result.skipped else ""
    click.echo(
        f"wrote {result.count} features ({result.dim}-d) to {out} in {seconds:.1f} s"
        f"{resumed}{skipped}"
    )
    click.echo(f"next: zsk data check {out}")


def _check_feature_source(
    backbone: str | None,
    weights: Path | None,
    run_dir: Path | None,
    image_size: int | None,
    batch_size: int,
) -> None:
    """Refuse a ``zsk data features`` call that names no source, or two, or settings that do
    not go with its source."""
    if (backbone is None) == (run_dir is None):
        raise UserError(
            "give either --backbone NAME --weights PATH or --run RUNFOLDER",
            hint="e.g. --backbone resnet101 --weights resnet101.safetensors",
        )
    if backbone is not None and weights is None:
        raise UserError(
            f"--backbone {backbone} needs --weights: zsk never downloads weights",
            hint=f"give the local model.safetensors of timm's '{backbone}' (Hugging Face repo "
            f"timm/{backbone})",
        )
    if run_dir is not None and (weights is not None or image_size is not None):
        raise UserError("--weights and --image-size go with --backbone, not --run")
    if image_size is not None and not 8 <= image_size <= 1024:
        raise UserError(f"--image-size must be between 8 and 1024, got {image_size}")
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")


@data.command()
@click.argument("src", type=FOLDER)
@click.argument("out", type=FOLDER)
def apy(src: Path, out: Path) -> None:
    """Crop every object of the aPascal & aYahoo download SRC into an image data set at OUT
    (image_folder layout: attributes.csv, seen.txt, unseen.txt, images/CLASS/)."""
    from zsk.core.data.apy import write_crops

    if not src.is_dir():
        raise UserError("source folder not found", where=str(src))
    objects, classes = write_crops(src, out, progress=sys.stderr.isatty())
    click.echo(f"wrote {objects} object images of {classes} classes to {out}")
    click.echo(f"next: zsk data check {out}")
