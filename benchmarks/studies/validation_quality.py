"""Quality of validation runs, from validation data only: what spec choices are made on.

    python -m benchmarks.studies.validation_quality runs/shapes-validation [runs/other ...]

A validation run (spec section ``holdout``) never trained on some seen classes. For each run
this prints, without touching a test image:

- *imagined held-out*: the attribute accuracy of images its generator imagines for the held-out
  classes (64 per class), read by a judge trained on the run's own training images (the same
  probe and recipe as ``zsk eval``); and the same for the background predicates alone, where
  the demo's generator went wrong (BENCHMARKS.md §5);
- *held-out ZSL*: embedding ZSL top-1 on the held-out classes' images;
- *validation H*: the best embedding GZSL H over the calibration constant on the held-out images
  (the number ``zsk eval --calibrate-with`` chooses its constant by).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.speed.common import machine_line
from benchmarks.studies.results import markdown_table
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.attribute_probe import binarize, predicate_accuracy, train_probe
from zsk.core.evaluate.calibration import holdout_images
from zsk.core.evaluate.embedding import class_scores, embedding_calibration
from zsk.core.evaluate.inference import imagine_classes
from zsk.core.evaluate.protocol import zsl_top1
from zsk.core.evaluate.trained import load_trained
from zsk.registry import UserError

CPU = torch.device("cpu")
BATCH = 128
BACKGROUND = ("light_background", "dark_background")


@dataclass
class ValidationQuality:
    imagined: float
    imagined_background: float | None  # None when the data set has no background predicates
    held_out_zsl: float
    validation_h: float


def _validation_run(run_dir: Path):
    run = load_trained(run_dir)
    if run.build.data.holdout is None:
        raise UserError(
            f"{run_dir} is not a validation run: its spec has no holdout section",
            hint="build one with zsk build SPEC --set 'holdout={}' --out DIR",
        )
    return run  # in eval mode: load_trained leaves it so


def recognition(run) -> tuple[float, float]:
    """(held-out ZSL, validation H) of a loaded validation run: its embedding route only."""
    data, held = run.build.data, run.build.data.holdout.classes
    validation = holdout_images(run)
    calibration, _ = embedding_calibration(run.build.gan, data, validation, CPU, BATCH)
    is_held = torch.isin(validation.images.labels, torch.tensor(held))
    scores = class_scores(run.build.gan, data, validation.images.images[is_held], CPU, BATCH)
    return zsl_top1(scores, validation.images.labels[is_held], held), calibration.h


def measure(run_dir: Path, per_class: int = 64, probe_steps: int = 1000, seed: int = 0):
    """The validation-only numbers of one validation run (see module)."""
    run = _validation_run(run_dir)
    data, size = run.build.data, run.build.dims.image_size
    torch.manual_seed(seed)
    train = LabelledImages(*load_split_images(data, "train", size))
    binary, _ = binarize(data.attributes)
    judge = train_probe(train, binary, probe_steps, CPU, seed)
    imagined = imagine_classes(
        run.build.gan,
        data.attributes.to(torch.float32),
        data.holdout.classes,
        per_class,
        CPU,
        BATCH,
        train.images,
        torch.Generator().manual_seed(seed),
    )
    per_predicate = predicate_accuracy(judge, imagined, binary, CPU, BATCH)
    background = [data.predicates.index(p) for p in BACKGROUND if p in data.predicates]
    held_out_zsl, validation_h = recognition(run)
    return ValidationQuality(
        imagined=float(per_predicate.mean()),
        imagined_background=float(per_predicate[background].mean()) if background else None,
        held_out_zsl=held_out_zsl,
        validation_h=validation_h,
    )


def table(rows: list[tuple[str, ValidationQuality]]) -> str:
    header = ("validation run", "imagined held-out", "background", "held-out ZSL", "validation H")
    return markdown_table(
        header,
        (
            (
                name,
                f"{q.imagined:.3f}",
                "—" if q.imagined_background is None else f"{q.imagined_background:.3f}",
                f"{q.held_out_zsl:.3f}",
                f"{q.validation_h:.3f}",
            )  # fmt: skip
            for name, q in rows
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="validation run directories")
    parser.add_argument("--per-class", type=int, default=64, help="imagined images per class")
    parser.add_argument("--probe-steps", type=int, default=1000, help="training steps of the judge")
    args = parser.parse_args(argv)
    print(machine_line())
    try:
        rows = [(str(r), measure(r, args.per_class, args.probe_steps)) for r in args.runs]
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
