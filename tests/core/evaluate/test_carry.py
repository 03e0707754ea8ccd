"""Carrying GZSL's constants into the evaluated run's scale: margins, the share rule, the
draws of training samples, and the constant carried by hand between two toy networks and
through a combination of two routes."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from zsk.core.evaluate.carry import (
    MARGIN_IMAGES,
    SharedScores,
    carried,
    margin_sample,
    margins,
    shared_draws,
)
from zsk.core.evaluate.combined import combine, combined_route
from zsk.core.evaluate.embedding import class_scores
from zsk.core.evaluate.protocol import Calibration
from zsk.core.evaluate.route_scores import Classes, RouteScores, carry

CPU = torch.device("cpu")


def test_a_margin_is_the_best_seen_score_less_the_best_unseen_score():
    scores = torch.tensor([[0.9, 0.2, 0.5, 0.1], [0.1, 0.3, 0.2, 0.8]])
    assert torch.allclose(margins(scores, [0, 1], [2, 3]), torch.tensor([0.4, -0.5]))


def test_the_constant_sends_the_same_share_of_images_unseen_on_the_runs_scale():
    chosen = Calibration(gamma=0.3, u=0.5, s=0.6, h=0.55)
    validation = torch.tensor([0.1, 0.2, 0.4, 0.9])  # 0.3 sends a half of them unseen
    run = torch.tensor([0.05, 0.5, 0.6, 0.65, 2.0])  # its median: a half below
    moved = carried(chosen, validation, run)
    assert moved.gamma == pytest.approx(0.6)
    # the validation numbers are those the constant gave where it was chosen
    assert (moved.u, moved.s, moved.h, moved.chosen) == (0.5, 0.6, 0.55, 0.3)
    record = moved.record("validation run")
    assert record.gamma == pytest.approx(0.6) and record.chosen_gamma == 0.3
    assert chosen.record("validation run").chosen_gamma is None


def test_the_margins_are_read_on_a_bounded_draw_of_the_training_images():
    assert sorted(margin_sample(10, seed=0).tolist()) == list(range(10))
    many = margin_sample(MARGIN_IMAGES + 500, seed=3)
    assert len(many) == MARGIN_IMAGES == len(set(many.tolist()))
    assert torch.equal(many, margin_sample(MARGIN_IMAGES + 500, seed=3))


def test_each_network_is_read_on_a_draw_of_its_own_samples_of_the_classes_both_trained_on():
    validation = torch.tensor([0, 1, 0, 1, 0])
    run = torch.tensor([2, 0, 1, 2, 0, 3] * (MARGIN_IMAGES // 2))
    judged, own = shared_draws(validation, run, [0, 1], seed=4)
    assert sorted(judged.tolist()) == [0, 1, 2, 3, 4]
    assert len(own) == MARGIN_IMAGES == len(set(own.tolist()))
    assert set(run[own].tolist()) == {0, 1}
    again = shared_draws(validation, run, [0, 1], seed=4)
    assert torch.equal(again[0], judged) and torch.equal(again[1], own)


def _quantile_by_hand(values: list[float], share: float) -> float:
    """numpy's linear quantile of ``values`` at ``share``."""
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _margins_by_hand(scores: torch.Tensor, seen: list[int], unseen: list[int]) -> list[float]:
    return [max(row[c] for c in seen) - max(row[c] for c in unseen) for row in scores.tolist()]


def _cosines(images: torch.Tensor, scale: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """The toy networks' scores written out: mean colour × trunk scale against the class
    colours, by cosine."""
    colours = (images.float() / 127.5 - 1).mean(dim=(2, 3)) * scale
    classes = attributes[:, :3] * (150 / 127.5) + (50 / 127.5 - 1)
    return F.cosine_similarity(colours[:, None, :], classes[None, :, :], dim=2)


def test_the_embedding_constant_is_carried_between_two_networks(toy, toy_sets):
    train, _ = toy_sets
    data, judge, run = toy.data(), toy.gan(), toy.gan()
    scale = torch.tensor([2.0, 0.5, 1.0])
    run.discriminator.trunk.scale.data = scale.clone()
    # the judge trained on classes 0-2 with class 3 held out; the run on all four
    classes = Classes(toy.seen, toy.unseen, [0, 1, 2], [3])
    picks = shared_draws(train.labels, train.labels, [0, 1, 2], seed=0)
    judged, own = train.subset(picks[0]), train.subset(picks[1])
    shared = SharedScores.read(
        (judged, own),
        lambda images: class_scores(judge, data, images, CPU, 16),
        lambda images: class_scores(run, data, images, CPU, 16),
    )
    assert torch.equal(shared.validation_labels, judged.labels)
    assert set(judged.labels.tolist()) == {0, 1, 2}

    plain_cosines = _cosines(judged.images, torch.ones(3), data.attributes)
    validation = _margins_by_hand(plain_cosines, [0, 1, 2], [3])
    scored = _margins_by_hand(_cosines(own.images, scale, data.attributes), toy.seen, toy.unseen)
    distinct = sorted(set(validation))  # a constant between two margins, clear of ties
    chosen = (distinct[len(distinct) // 3] + distinct[len(distinct) // 3 + 1]) / 2
    moved = carry(Calibration(gamma=chosen, u=0.0, s=0.0, h=0.0), shared, classes)
    share = sum(margin < chosen for margin in validation) / len(validation)
    assert 0 < share < 1 and moved.chosen == chosen
    assert moved.gamma == pytest.approx(_quantile_by_hand(scored, share), abs=1e-5)
    assert abs(moved.gamma - chosen) > 0.01
    assert carry(Calibration(gamma=0.1, u=0.0, s=0.0, h=0.0), None, classes).chosen is None


def _random_route(classes: Classes, seed: int, shared_labels: torch.Tensor) -> RouteScores:
    """Scores of four validation images, four test images and the shared training samples."""
    generator = torch.Generator().manual_seed(seed)

    def scores(count: int) -> torch.Tensor:
        return torch.rand(count, 4, generator=generator)

    return RouteScores(
        scores(4),
        torch.tensor([0, 0, 1, 1]),
        scores(4),
        torch.tensor([0, 1, 2, 3]),
        classes,
        "toy",
        shared=SharedScores(scores(40), shared_labels[:40], scores(60), shared_labels[:60]),
    )


def test_a_combined_routes_constant_is_carried_on_the_weighed_shared_scores():
    # validation: 0 seen, 1 held out; test: 0, 1 seen, 2, 3 unseen; shared samples of class 0
    classes = Classes(seen=[0, 1], unseen=[2, 3], validation_seen=[0], validation_unseen=[1])
    zeros = torch.zeros(60, dtype=torch.long)
    embedding, learnt = _random_route(classes, 0, zeros), _random_route(classes, 1, zeros)
    route = combined_route(embedding, learnt)
    plain = combined_route(dataclasses.replace(embedding, shared=None), learnt)

    weighing = route.combination
    temperature, weight = weighing.temperature, weighing.embedding_weight
    on_validation = combine(
        embedding.shared.validation, learnt.shared.validation, [0, 1], temperature, weight
    )
    on_run = combine(embedding.shared.run, learnt.shared.run, [0, 1, 2, 3], temperature, weight)
    chosen = plain.gzsl.calibration.gamma
    validation = _margins_by_hand(on_validation, [0], [1])
    share = sum(margin < chosen for margin in validation) / len(validation)
    expected = _quantile_by_hand(_margins_by_hand(on_run, [0, 1], [2, 3]), share)
    assert route.gzsl.calibration.chosen_gamma == chosen
    assert plain.gzsl.calibration.chosen_gamma is None
    assert route.gzsl.calibration.gamma == pytest.approx(expected, abs=1e-6)
    assert route.gzsl.calibration.val_h == plain.gzsl.calibration.val_h

    # routes that read different training samples combine, with the constant as chosen
    others = _random_route(classes, 1, torch.ones(60, dtype=torch.long))
    assert combined_route(embedding, others).gzsl.calibration.chosen_gamma is None
