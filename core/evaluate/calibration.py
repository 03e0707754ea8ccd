"""Where GZSL's calibration constants are chosen: a validation run, else the run itself.

Both routes (embedding and generative) choose their constant on the same source, in order of
preference:

1. ``zsk eval --calibrate-with VAL_RUN``: a validation run of the same task (spec section
   ``holdout``) never trained on some seen classes. Its networks score its held-out classes'
   images (unseen) and its held-out images of the classes it trained on (seen); the constant
   with the best H there is applied to the evaluated run. For the generative route its
   generator imagines the held-out classes, as the evaluated run's imagines the unseen ones.
   This is the field's protocol. ``zsk eval --unseen-as-distractors`` lets the data set's
   unseen classes compete there too, by their attributes
   (:class:`~zsk.core.evaluate.embedding.CalibrationImages`; docs/method.md).
2. The evaluated run is itself a validation run: its own held-out images.
3. Neither: the run's own training images with pseudo-unseen classes it *was* trained on
   (:mod:`zsk.core.evaluate.pseudo_unseen`), which underestimates the bias; the source says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.holdout import ClassSplit
from zsk.core.data.loader import load_images, load_split_images
from zsk.core.evaluate.embedding import CalibrationImages
from zsk.core.evaluate.trained import TrainedRun
from zsk.registry import UserError

FAMILIAR = (
    "pseudo-unseen classes the run was trained on (self-calibrated: underestimates the bias; "
    "add a validation_run section to the spec)"
)


def holdout_images(trained: TrainedRun, distractors: bool = False) -> CalibrationImages:
    """A validation run's held-out images, labelled, with the classes on each side, and
    (``distractors``) the data set's unseen classes as distractors."""
    data = trained.build.data
    holdout = data.holdout
    if holdout is None:
        raise ValueError(f"{trained.run_dir} has no held-out images")
    size = trained.build.dims.image_size
    samples = holdout.seen_images + holdout.unseen_images
    images, labels = load_images(data, samples, size, "held-out", progress=True)
    rivals = data.unseen if distractors else []
    extra = f", {len(rivals)} unseen classes as distractors" if rivals else ""
    return CalibrationImages(
        LabelledImages(images, labels),
        seen=data.seen,
        unseen=holdout.classes,
        source=f"validation run {trained.run_dir} ({len(holdout.classes)} held-out classes{extra})",
        distractors=rivals,
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


@dataclass(frozen=True)
class CalibrationSource:
    """The networks whose bias a constant measures, and the images it is chosen on.

    ``judge`` was trained on ``images.seen`` and not on ``images.unseen`` (unless the source
    is the familiar split); ``fit`` holds real training images of ``images.seen``, on which
    the generative route's validation classifier is fitted beside images ``judge`` imagines.
    """

    scorer: TrainedRun
    images: CalibrationImages
    fit: LabelledImages


def calibration_source(
    trained: TrainedRun,
    train: LabelledImages,
    split: ClassSplit,
    validation_run: TrainedRun | None,
    distractors: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> CalibrationSource:
    """Where ``trained``'s constants are chosen (see module); ``train`` are its training images;
    ``distractors``: the data set's unseen classes compete there on the unseen side.

    ``validation_run`` must have passed :func:`check_validation_run`.
    """
    if validation_run is not None:
        log(f"choosing the calibration on validation run {validation_run.run_dir}")
        data, size = validation_run.build.data, validation_run.build.dims.image_size
        fit = LabelledImages(*load_split_images(data, "train", size, progress=True))
        images = holdout_images(validation_run, distractors)
        return CalibrationSource(validation_run, images, fit)
    if trained.build.data.holdout is not None:
        return CalibrationSource(trained, holdout_images(trained, distractors), train)
    familiar = CalibrationImages(
        train.subset(split.val),
        split.trained,
        split.held_out,
        FAMILIAR,
        distractors=trained.build.data.unseen if distractors else [],
    )
    return CalibrationSource(trained, familiar, train.subset(split.fit))
