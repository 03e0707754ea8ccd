"""The combined route: two routes' scores weighed into one recogniser, the weighing chosen on
validation images only."""

from __future__ import annotations

import math

import pytest
import torch

from zsk.core.evaluate.combined import TEMPERATURES, WEIGHTS, combine, combined_route
from zsk.core.evaluate.protocol import calibrate, zsl_top1
from zsk.core.evaluate.route_scores import Classes, RouteScores, same_images

# classes 0, 1 seen and 2, 3 unseen at test; on validation, 1 is held out of 0, 1
CLASSES = Classes(seen=[0, 1], unseen=[2, 3], validation_seen=[0], validation_unseen=[1])


def _log_softmax_by_hand(row: list[float]) -> list[float]:
    total = math.log(sum(math.exp(v) for v in row))
    return [v - total for v in row]


def test_combine_weighs_a_softmax_of_the_cosines_and_the_log_probabilities():
    cosines = torch.tensor([[0.9, 0.1, -0.3, 0.5]])
    log_probs = torch.tensor([[-0.2, -2.0, -3.0, float("-inf")]])
    combined = combine(cosines, log_probs, [0, 1, 2], temperature=10.0, weight=0.25)
    embedding = _log_softmax_by_hand([9.0, 1.0, -3.0])
    learnt = _log_softmax_by_hand([-0.2, -2.0, -3.0])
    expected = [0.25 * e + 0.75 * g for e, g in zip(embedding, learnt, strict=True)]
    assert combined[0, :3].tolist() == pytest.approx(expected)
    assert combined[0, 3] == float("-inf")  # not a candidate


def _likelihood_by_hand(scores: torch.Tensor, labels: torch.Tensor, candidates: list[int]) -> float:
    """Mean over images of log p(true class) with p a softmax over ``candidates``."""
    total = 0.0
    for row, label in zip(scores.tolist(), labels.tolist(), strict=True):
        normaliser = math.log(sum(math.exp(row[c]) for c in candidates))
        total += row[label] - normaliser
    return total / len(labels)


def _scores(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def _routes(validation_embedding, validation_learnt, test_embedding, test_learnt):
    validation_labels = torch.tensor([0, 0, 1, 1])
    test_labels = torch.tensor([0, 1, 2, 3])

    def route(validation, test):
        return RouteScores(
            _scores(validation), validation_labels, _scores(test), test_labels, CLASSES, "toy"
        )

    return (
        route(validation_embedding, test_embedding),
        route(validation_learnt, test_learnt),
    )


# On validation each route alone rates an image of class 1 more like class 0 than one of class 0
# is (the embedding route the last image, the classifier the third), so no calibration constant
# separates the classes, and only weighings of both reach H 1. At test the embedding route
# confuses the seen classes; the classifier is sure of them and unsure between the unseen ones.
VALIDATION_EMBEDDING = [
    [0.9, 0.2, 0, 0],
    [0.5, 0.4, 0, 0],
    [0.1, 0.6, 0, 0],
    [0.6, 0.3, 0, 0],
]
VALIDATION_LEARNT = [
    [-0.1, -3.0, -9, -9],
    [-0.5, -1.0, -9, -9],
    [-0.2, -1.2, -9, -9],
    [-3.0, -0.1, -9, -9],
]
TEST_EMBEDDING = [
    [0.5, 0.6, 0.1, 0.0],
    [0.3, 0.6, 0.2, 0.1],
    [0.1, 0.0, 0.9, 0.3],
    [0.0, 0.1, 0.2, 0.8],
]
TEST_LEARNT = [
    [-0.1, -4.0, -5.0, -5.0],
    [-4.0, -0.1, -5.0, -5.0],
    [-3.0, -3.0, -0.7, -0.69],
    [-3.0, -3.0, -0.7, -0.69],
]


ROUTES = (VALIDATION_EMBEDDING, VALIDATION_LEARNT, TEST_EMBEDDING, TEST_LEARNT)


def test_the_combination_is_the_one_of_highest_validation_h_and_reads_the_test_scores():
    embedding, learnt = _routes(*ROUTES)
    route = combined_route(embedding, learnt)

    # the choice, made again here: every temperature and weight, calibrated on validation for
    # GZSL, the likelihood of the true classes breaking ties in H; for ZSL, the top-1 among the
    # held-out classes, which are only class 1: every weighing is right there, and as sure
    # (one candidate), so the first (temperature 5, weight 0) stays
    best, tied = None, 0
    for temperature in TEMPERATURES:
        for weight in WEIGHTS:
            scores = combine(embedding.validation, learnt.validation, [0, 1], temperature, weight)
            labels = embedding.validation_labels
            calibration = calibrate(scores, labels, [0], [1])
            merit = (calibration.h, _likelihood_by_hand(scores, labels, [0, 1]))
            tied += best is not None and calibration.h == best[0][0]
            if best is None or merit > best[0]:
                best = (merit, calibration, temperature, weight)
    _, calibration, temperature, weight = best
    assert tied > 0  # the likelihood had ties in H to break
    assert 0 < weight < 1  # neither route alone
    assert route.combination.temperature == temperature
    assert route.combination.embedding_weight == weight
    assert route.gzsl.calibration.val_h == pytest.approx(calibration.h)
    assert route.gzsl.calibration.source == "toy"
    assert (route.combination.zsl_temperature, route.combination.zsl_embedding_weight) == (5, 0)

    labels = embedding.test_labels
    unseen_only = combine(embedding.test, learnt.test, [0, 1, 2, 3], 5.0, 0.0)
    assert route.zsl_top1 == pytest.approx(zsl_top1(unseen_only[2:], labels[2:], [2, 3]))
    test = combine(embedding.test, learnt.test, [0, 1, 2, 3], temperature, weight)
    # the combination gets all four test images right where each route alone misses one
    predicted = (test - calibration.gamma * torch.tensor([1.0, 1.0, 0.0, 0.0])).argmax(1)
    assert predicted.tolist() == [0, 1, 2, 3]
    assert route.gzsl.h == pytest.approx(1.0)
    assert TEST_EMBEDDING[0].index(max(TEST_EMBEDDING[0])) != 0
    assert TEST_LEARNT[2].index(max(TEST_LEARNT[2])) != 2


def test_test_scores_play_no_part_in_the_choice():
    embedding, learnt = _routes(*ROUTES)
    flipped_embedding, flipped_learnt = _routes(
        VALIDATION_EMBEDDING, VALIDATION_LEARNT, TEST_LEARNT, TEST_EMBEDDING
    )
    chosen = combined_route(embedding, learnt)
    other = combined_route(flipped_embedding, flipped_learnt)
    assert other.combination == chosen.combination
    assert other.gzsl.calibration == chosen.gzsl.calibration


def test_routes_of_different_images_are_not_combined():
    embedding, learnt = _routes(*ROUTES)
    shuffled = RouteScores(
        learnt.validation,
        learnt.validation_labels.flip(0),
        learnt.test,
        learnt.test_labels,
        CLASSES,
        "toy",
    )
    assert same_images(embedding, learnt)
    assert not same_images(embedding, shuffled)
    with pytest.raises(ValueError, match="different images"):
        combined_route(embedding, shuffled)


def test_zsl_weighs_the_routes_by_top1_among_the_held_out_classes():
    # held-out classes 1 and 2: the embedding route tells 1 apart, the classifier 2; both
    # together tell both apart, with the embedding's cosines spread enough to count
    classes = Classes(seen=[0, 1, 2], unseen=[3, 4], validation_seen=[0], validation_unseen=[1, 2])
    validation_labels = torch.tensor([0, 1, 2])
    validation_embedding = _scores(
        [[0.9, 0.0, 0.0, 0, 0], [0.0, 0.9, 0.0, 0, 0], [0, 0.2, 0.1, 0, 0]]
    )
    validation_learnt = _scores(
        [[-0.1, -5, -5, -9, -9], [-5, -1.0, -0.9, -9, -9], [-5, -3, -0.1, -9, -9]]
    )
    test_labels = torch.tensor([0, 1, 2, 3, 4])
    test = torch.rand(5, 5, generator=torch.Generator().manual_seed(0))

    def route(validation):
        return RouteScores(validation, validation_labels, test, test_labels, classes, "toy")

    combined = combined_route(route(validation_embedding), route(validation_learnt))
    tried = {}
    for temperature in TEMPERATURES:
        for weight in WEIGHTS:
            scores = combine(
                validation_embedding, validation_learnt, [0, 1, 2], temperature, weight
            )
            top1 = zsl_top1(scores[1:], validation_labels[1:], [1, 2])
            sure = _likelihood_by_hand(scores[1:], validation_labels[1:], [1, 2])
            tried[(temperature, weight)] = (top1, sure)
    accuracies = {top1 for top1, _ in tried.values()}
    assert max(accuracies) == 1.0 and min(accuracies) == 0.5  # each route alone gets one of two
    assert sum(top1 == 1.0 for top1, _ in tried.values()) > 1  # a tie the likelihood breaks
    chosen = (combined.combination.zsl_temperature, combined.combination.zsl_embedding_weight)
    assert chosen == max(tried, key=lambda weighing: tried[weighing]) and 0 < chosen[1] < 1
    unseen_only = combine(test, test, [0, 1, 2, 3, 4], *chosen)
    assert combined.zsl_top1 == pytest.approx(zsl_top1(unseen_only[3:], test_labels[3:], [3, 4]))
