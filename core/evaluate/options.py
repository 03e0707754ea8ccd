"""The knobs of ``zsk eval``, shared by the evaluation of a run and of a staged run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zsk.core.spec.refs import MetricRef


@dataclass(frozen=True)
class EvalOptions:
    """Knobs of an evaluation; the defaults suit AwA2 at 128 pixels on a GPU.

    ``images_per_class`` and ``classifier_epochs`` are candidates that the generative route
    chooses among on validation classes (never on test data); empty:
    :data:`~.routes.IMAGE_CHOICES` or :data:`~.routes.FEATURE_CHOICES`, by the run's data.
    """

    images_per_class: tuple[int, ...] = ()
    classifier_epochs: tuple[int, ...] = ()
    probe_steps: int = 1000
    batch_size: int = 128
    seed: int = 0
    metrics: tuple[MetricRef, ...] = ()
    #: the validation run that chooses GZSL's constants; None: RUN_DIR/validation when built
    calibration_run: Path | None = None
    #: let the data set's unseen classes compete on the validation images where the constants
    #: are chosen (:class:`~.embedding.CalibrationImages`)
    unseen_as_distractors: bool = False
    #: carry every route's constant from the validation run's scale into the run's
    #: (:mod:`.carry`); False: apply it as chosen (the field's protocol)
    carry_constant: bool = True
    #: average each image's embedding with its mirror image's in the embedding route, for a
    #: run trained on mirrored images (``train.hflip``); False: each image's own embedding
    mirror_average: bool = True
