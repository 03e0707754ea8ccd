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

Weighings are compared as every route compares its candidates (:mod:`.merit`): a few held-out
classes often leave several equally accurate (every one of them, where the held-out classes are
easy), and the likelihood of the true classes then decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zsk.core.evaluate.carry import SharedScores
from zsk.core.evaluate.cross_fit import cross_fitted, validation_folds
from zsk.core.evaluate.merit import Merit, best, gzsl_merit, zsl_merit
from zsk.core.evaluate.protocol import Calibration, calibrated_gzsl, zsl_top1
from zsk.core.evaluate.result import Combination, RouteResult
from zsk.core.evaluate.route_scores import RouteScores, carry, same_images

#: Softmax temperatures for the embedding route's cosines (a cosine lies in [-1, 1], so a
#: temperature of 10 spreads the classes over e^20 in probability).
TEMPERATURES = (5.0, 10.0, 20.0, 40.0)
#: The embedding route's weight: 0 and 1 are the routes themselves, so the combination does
#: no worse than either on the validation images.
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


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


@dataclass(frozen=True)
class Weighing:
    """One weighing of two routes, judged on the validation images: its combined scores
    there, its calibration, and its merits for GZSL (among every validation class) and for ZSL
    (among the held-out classes on their images)."""

    temperature: float
    weight: float
    scores: torch.Tensor
    calibration: Calibration
    gzsl_merit: Merit
    zsl_merit: Merit


def validation_weighings(embedding: RouteScores, generative: RouteScores) -> list[Weighing]:
    """Every weighing of :data:`TEMPERATURES` × :data:`WEIGHTS`, in that order, judged on the
    validation images both routes scored."""
    classes = embedding.classes
    seen, unseen = classes.validation_seen, classes.validation_unseen
    unseen_side = classes.validation_unseen_side
    labels = embedding.validation_labels
    held_out = torch.isin(labels, torch.tensor(unseen))
    every = sorted(seen + unseen_side)
    judged = []
    for temperature in TEMPERATURES:
        for weight in WEIGHTS:
            scores = combine(
                embedding.validation, generative.validation, every, temperature, weight
            )
            calibration, merit = gzsl_merit(scores, labels, seen, unseen_side)
            on_held_out = zsl_merit(scores[held_out], labels[held_out], unseen)
            judged.append(Weighing(temperature, weight, scores, calibration, merit, on_held_out))
    return judged


def combined_route(embedding: RouteScores, generative: RouteScores) -> RouteResult:
    """The combinations with the best validation H (for GZSL) and the best validation ZSL
    top-1 (for ZSL), the likelihood breaking ties, read on the test images, and the choice's
    cross-fitted numbers. Both routes must have scored the same images (:func:`same_images`);
    where both carried their constants on the same training samples, the combination's
    constant is carried too (:mod:`.carry`)."""
    if not same_images(embedding, generative):
        raise ValueError("the two routes scored different images")
    judged = validation_weighings(embedding, generative)
    by_h = judged[best([weighing.gzsl_merit for weighing in judged])]
    by_zsl = judged[best([weighing.zsl_merit for weighing in judged])]
    classes = embedding.classes
    seen, unseen = classes.validation_seen, classes.validation_unseen
    labels = embedding.validation_labels
    candidates = [weighing.scores for weighing in judged]
    folds = validation_folds(labels, seen, unseen)
    every = sorted(classes.seen + classes.unseen)
    test = combine(embedding.test, generative.test, every, by_h.temperature, by_h.weight)
    unseen_only = combine(embedding.test, generative.test, every, by_zsl.temperature, by_zsl.weight)
    test_labels = embedding.test_labels
    is_unseen = torch.isin(test_labels, torch.tensor(classes.unseen))
    calibration = carry(by_h.calibration, _shared_weighing(embedding, generative, by_h), classes)
    return RouteResult(
        zsl_top1=zsl_top1(unseen_only[is_unseen], test_labels[is_unseen], classes.unseen),
        gzsl=calibrated_gzsl(
            calibration, test, test_labels, classes.seen, classes.unseen, embedding.source
        ),
        combination=Combination(
            temperature=by_h.temperature,
            embedding_weight=by_h.weight,
            zsl_temperature=by_zsl.temperature,
            zsl_embedding_weight=by_zsl.weight,
        ),
        cross_fitted=cross_fitted(
            candidates, labels, seen, unseen, folds, False, classes.validation_distractors
        ),
    )


def _shared_weighing(
    embedding: RouteScores, generative: RouteScores, weighing: Weighing
) -> SharedScores | None:
    """``weighing``'s combined scores on the training samples both routes carried their
    constants on; None where either applied its constant as chosen."""
    first, second = embedding.shared, generative.shared
    if first is None or second is None or not first.same_samples(second):
        return None
    classes = embedding.classes
    on_validation = sorted(classes.validation_seen + classes.validation_unseen_side)
    on_run = sorted(classes.seen + classes.unseen)
    temperature, weight = weighing.temperature, weighing.weight
    return SharedScores(
        combine(first.validation, second.validation, on_validation, temperature, weight),
        first.validation_labels,
        combine(first.run, second.run, on_run, temperature, weight),
        first.run_labels,
    )
