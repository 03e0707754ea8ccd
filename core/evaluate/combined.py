"""A combined route: the embedding route's cosines and a generative classifier's
log-probabilities on the same images, summed with a weight, as one recogniser.

The two routes err differently: the embedding route compares an image with every class's
attributes through the discriminator's embedding, and the generative classifier learnt the
unseen classes from imagined samples beside real seen ones. Each route's scores become
log-probabilities over the candidate classes (the cosines through a softmax at a temperature),
and the combination is ``w · embedding + (1 − w) · generative``. The temperature and the weight
are chosen on the validation images both routes' constants were chosen on, never on test data:
for GZSL with the calibration constant, by the highest H; for ZSL, by the highest top-1
accuracy among the held-out classes on their images (the field reports the two tasks apart,
as f-CLSWGAN trains a classifier for each). The test scores then only receive them.

A few held-out classes often leave several weighings equally accurate (every one of them, where
the held-out classes are easy); the likelihood of the true classes then decides, which still
tells the weighings apart, rather than the order they are tried in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zsk.core.evaluate.protocol import (
    Calibration,
    calibrate,
    calibrated_gzsl,
    restrict,
    zsl_top1,
)
from zsk.core.evaluate.result import Combination, RouteResult

#: Softmax temperatures for the embedding route's cosines (a cosine lies in [-1, 1], so a
#: temperature of 10 spreads the classes over e^20 in probability).
TEMPERATURES = (5.0, 10.0, 20.0, 40.0)
#: The embedding route's weight: 0 and 1 are the routes themselves, so the combination does
#: no worse than either on the validation images.
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Classes:
    """The seen and unseen classes of the test images and of the validation images."""

    seen: list[int]
    unseen: list[int]
    validation_seen: list[int]
    validation_unseen: list[int]


@dataclass(frozen=True)
class RouteScores:
    """A route's scores over every class of the data set (N, C, higher is more likely): on the
    validation images its constant was chosen on (``source`` names them) and on the test
    images, with their labels and classes."""

    validation: torch.Tensor
    validation_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    classes: Classes
    source: str


def same_images(first: RouteScores, second: RouteScores) -> bool:
    """Whether two routes scored the same validation and test images (by their labels and
    classes, in order: a feature run's samples are its image source's, in the same order)."""
    return (
        first.classes == second.classes
        and torch.equal(first.validation_labels, second.validation_labels)
        and torch.equal(first.test_labels, second.test_labels)
    )


def combine(
    embedding: torch.Tensor,
    generative: torch.Tensor,
    candidates: list[int],
    temperature: float,
    weight: float,
) -> torch.Tensor:
    """The combined scores over every class: ``weight`` × log-softmax of ``temperature`` ×
    the cosines plus (1 − ``weight``) × the log-probabilities, both over ``candidates``;
    -inf for the other classes."""
    columns = torch.tensor(candidates, dtype=torch.long)
    cosine = F.log_softmax(temperature * embedding[:, columns].double(), dim=1)
    learnt = F.log_softmax(generative[:, columns].double(), dim=1)
    combined = torch.full(embedding.shape, float("-inf"), dtype=torch.float64)
    combined[:, columns] = weight * cosine + (1 - weight) * learnt
    return combined


def log_likelihood(scores: torch.Tensor, labels: torch.Tensor, candidates: list[int]) -> float:
    """The mean log-probability of each image's true class among ``candidates``, the scores
    taken as log-probabilities up to a constant per image."""
    narrowed, positions = restrict(scores, labels, candidates)
    log_p = F.log_softmax(narrowed.double(), dim=1)
    return float(log_p.gather(1, positions.unsqueeze(1)).mean())


@dataclass(frozen=True)
class Weighing:
    """One weighing of two routes, judged on the validation images: its calibration, and
    (accuracy, log-likelihood of the true classes) for GZSL (H, among every validation class)
    and for ZSL (top-1, among the held-out classes on their images)."""

    temperature: float
    weight: float
    calibration: Calibration
    gzsl_merit: tuple[float, float]
    zsl_merit: tuple[float, float]


def validation_weighings(embedding: RouteScores, generative: RouteScores) -> list[Weighing]:
    """Every weighing of :data:`TEMPERATURES` × :data:`WEIGHTS`, in that order, judged on the
    validation images both routes scored."""
    classes = embedding.classes
    validation_classes = sorted(classes.validation_seen + classes.validation_unseen)
    labels = embedding.validation_labels
    held_out = torch.isin(labels, torch.tensor(classes.validation_unseen))
    unseen_labels = labels[held_out]
    judged = []
    for temperature in TEMPERATURES:
        for weight in WEIGHTS:
            scores = combine(
                embedding.validation, generative.validation, validation_classes, temperature, weight
            )
            unseen_scores = scores[held_out]
            calibration = calibrate(
                scores, labels, classes.validation_seen, classes.validation_unseen
            )
            judged.append(
                Weighing(
                    temperature,
                    weight,
                    calibration,
                    (calibration.h, log_likelihood(scores, labels, validation_classes)),
                    (
                        zsl_top1(unseen_scores, unseen_labels, classes.validation_unseen),
                        log_likelihood(unseen_scores, unseen_labels, classes.validation_unseen),
                    ),
                )
            )
    return judged


def combined_route(embedding: RouteScores, generative: RouteScores) -> RouteResult:
    """The combinations with the best validation H (for GZSL) and the best validation ZSL
    top-1 (for ZSL), the likelihood breaking ties, read on the test images. Both routes must
    have scored the same images (:func:`same_images`)."""
    if not same_images(embedding, generative):
        raise ValueError("the two routes scored different images")
    judged = validation_weighings(embedding, generative)
    # the best weighing; the first in the order tried where even the likelihoods tie
    by_h = judged[max(range(len(judged)), key=lambda k: (judged[k].gzsl_merit, -k))]
    by_zsl = judged[max(range(len(judged)), key=lambda k: (judged[k].zsl_merit, -k))]
    classes = embedding.classes
    every = sorted(classes.seen + classes.unseen)
    test = combine(embedding.test, generative.test, every, by_h.temperature, by_h.weight)
    unseen_only = combine(embedding.test, generative.test, every, by_zsl.temperature, by_zsl.weight)
    test_labels = embedding.test_labels
    is_unseen = torch.isin(test_labels, torch.tensor(classes.unseen))
    return RouteResult(
        zsl_top1=zsl_top1(unseen_only[is_unseen], test_labels[is_unseen], classes.unseen),
        gzsl=calibrated_gzsl(
            by_h.calibration, test, test_labels, classes.seen, classes.unseen, embedding.source
        ),
        combination=Combination(
            temperature=by_h.temperature,
            embedding_weight=by_h.weight,
            zsl_temperature=by_zsl.temperature,
            zsl_embedding_weight=by_zsl.weight,
        ),
    )
