"""Where embedding GZSL's calibration constant is chosen: a validation run, else the run itself.

In order of preference:

1. ``zsk eval --calibrate-with VAL_RUN``: a validation run of the same task (spec section
   ``holdout``) never trained on some seen classes. Its networks score its held-out classes'
   images (unseen) and its held-out images of the classes it trained on (seen); the constant
   with the best H there is applied to the evaluated run. This is the field's protocol.
2. The evaluated run is itself a validation run: its own held-out images.
3. Neither: the run's own training images with pseudo-unseen classes it *was* trained on
   (:mod:`zsk.core.evaluate.validation`), which underestimates the bias; the source says so.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from zsk.core.data.holdout import ClassSplit
from zsk.core.data.loader import load_images
from zsk.core.data.types import ZslData
from zsk.core.evaluate.embedding import CalibrationImages, embedding_calibration
from zsk.core.evaluate.inference import LabelledImages
from zsk.core.evaluate.metrics import Calibration
from zsk.core.evaluate.trained import TrainedRun
from zsk.registry import UserError

FAMILIAR = (
    "pseudo-unseen classes the run was trained on (underestimates the bias: train a validation run)"
)


def holdout_images(trained: TrainedRun) -> CalibrationImages:
    """A validation run's held-out images, labelled, with the classes on each side."""
    data = trained.build.data
    holdout = data.holdout
    if holdout is None:
        raise ValueError(f"{trained.run_dir} has no held-out images")
    size = trained.build.dims.image_size
    samples = holdout.seen_images + holdout.unseen_images
    images, labels = load_images(data, samples, size, "held-out", progress=True)
    return CalibrationImages(
        LabelledImages(images, labels),
        seen=data.seen,
        unseen=holdout.classes,
        source=f"validation run {trained.run_dir} ({len(holdout.classes)} held-out classes)",
    )


def check_validation_run(data: ZslData, validation_run: TrainedRun) -> None:
    """Refuse a run without a holdout section, or one of another data set or split."""
    where, validation = validation_run.run_dir, validation_run.build.data
    if validation.holdout is None:
        raise UserError(
            f"{where} is not a validation run: its spec has no holdout section",
            hint="build one from the same spec with --set holdout.classes=N (see docs/method.md)",
        )
    trained = sorted(validation.seen + validation.holdout.classes)
    if (
        data.classes != validation.classes
        or data.predicates != validation.predicates
        or not torch.equal(data.attributes, validation.attributes)
        or data.unseen != validation.unseen
        or trained != sorted(data.seen)
    ):
        raise UserError(
            f"validation run {where} was built for another data set or split than the run",
            hint="build the validation run from the evaluated run's spec, adding a holdout section",
        )


def choose_embedding_calibration(
    trained: TrainedRun,
    train: LabelledImages,
    split: ClassSplit,
    validation_run: TrainedRun | None,
    device: torch.device,
    batch_size: int,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[Calibration, str]:
    """The constant for ``trained``'s embedding GZSL and its source (see module).

    ``validation_run`` must have passed :func:`check_validation_run`.
    """
    data = trained.build.data
    if validation_run is not None:
        log(f"choosing the calibration on validation run {validation_run.run_dir}")
        judge, images = validation_run, holdout_images(validation_run)
    elif data.holdout is not None:
        judge, images = trained, holdout_images(trained)
    else:
        judge = trained
        images = CalibrationImages(train.subset(split.val), split.trained, split.held_out, FAMILIAR)
    gan = judge.build.gan.to(device).eval()
    calibration = embedding_calibration(gan, judge.build.data, images, device, batch_size)
    return calibration, images.source
