"""A route's scores where its constant was chosen and where it is read, with the classes of
each: what the combined routes weigh and what carrying a constant reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from zsk.core.evaluate.carry import SharedScores, carried, margins
from zsk.core.evaluate.cross_fit import cross_fitted, validation_folds
from zsk.core.evaluate.protocol import Calibration
from zsk.core.evaluate.result import CrossFitRecord


@dataclass(frozen=True)
class Classes:
    """The seen and unseen classes of the test images and of the validation images, and the
    classes without validation images that compete there on the unseen side
    (:class:`~.embedding.CalibrationImages`)."""

    seen: list[int]
    unseen: list[int]
    validation_seen: list[int]
    validation_unseen: list[int]
    validation_distractors: list[int] = field(default_factory=list)

    @property
    def validation_unseen_side(self) -> list[int]:
        """Every candidate class on the validation images' unseen side."""
        return self.validation_unseen + self.validation_distractors


@dataclass(frozen=True)
class RouteScores:
    """A route's scores over every class of the data set (N, C, higher is more likely): on the
    validation images its constant was chosen on (``source`` names them) and on the test
    images, with their labels and classes; every candidate's validation scores that the
    route chose ``validation`` among, in the order it tried them (none: it chose nothing);
    and, where its constant is carried into the run's scale, its scores on training samples
    (:mod:`.carry`)."""

    validation: torch.Tensor
    validation_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    classes: Classes
    source: str
    candidates: tuple[torch.Tensor, ...] = ()
    shared: SharedScores | None = None

    def cross_fitted(self) -> CrossFitRecord | None:
        """The route's cross-fitted numbers (:mod:`.cross_fit`): one classifier serves both
        tasks, so its ZSL candidate is its GZSL choice."""
        classes = self.classes
        seen, unseen = classes.validation_seen, classes.validation_unseen
        labels = self.validation_labels
        folds = validation_folds(labels, seen, unseen)
        tried = self.candidates or (self.validation,)
        distractors = classes.validation_distractors
        return cross_fitted(tried, labels, seen, unseen, folds, True, distractors)


def carry(calibration: Calibration, shared: SharedScores | None, classes: Classes) -> Calibration:
    """``calibration``, chosen on the validation network, carried into the run's scale on the
    scores ``shared`` (:func:`~.carry.carried`): the validation network's margins between the
    classes it trained on and its unseen side, the run's between the data set's seen and
    unseen classes. Without shared scores, as chosen."""
    if shared is None:
        return calibration
    validation = margins(shared.validation, classes.validation_seen, classes.validation_unseen_side)
    run = margins(shared.run, classes.seen, classes.unseen)
    return carried(calibration, validation, run)


def same_images(first: RouteScores, second: RouteScores) -> bool:
    """Whether two routes scored the same validation and test images (by their labels and
    classes, in order: a feature run's samples are its image source's, in the same order)."""
    return (
        first.classes == second.classes
        and torch.equal(first.validation_labels, second.validation_labels)
        and torch.equal(first.test_labels, second.test_labels)
    )
