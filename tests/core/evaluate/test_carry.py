"""Carrying the embedding constant into the evaluated run's scale: margins, the median shift,
the shared images, and the constant carried between two toy networks by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from zsk.core.evaluate.carry import MARGIN_IMAGES, carried, margin_sample, margins
from zsk.core.evaluate.embedding import CalibrationImages, shared_margins
from zsk.core.evaluate.protocol import Calibration

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


def _cosines(images: torch.Tensor, scale: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """The toy networks' scores written out: mean colour × trunk scale against the class
    colours, by cosine."""
    colours = (images.float() / 127.5 - 1).mean(dim=(2, 3)) * scale
    classes = attributes[:, :3] * (150 / 127.5) + (50 / 127.5 - 1)
    return F.cosine_similarity(colours[:, None, :], classes[None, :, :], dim=2)


def test_the_constant_is_carried_between_two_networks_on_shared_images(toy, toy_sets):
    train, _ = toy_sets
    data, judge, run = toy.data(), toy.gan(), toy.gan()
    scale = torch.tensor([2.0, 0.5, 1.0])
    run.discriminator.trunk.scale.data = scale.clone()
    # the judge trained on classes 0-2 with class 3 held out; the run on all four
    validation = CalibrationImages(train, [0, 1, 2], [3], "toy")
    chosen = Calibration(gamma=0.1, u=0.0, s=0.0, h=0.0)
    found = shared_margins(judge, validation, run, data, train.images, CPU, 16)
    moved = carried(chosen, *found)

    def margins_by_hand(scores: torch.Tensor, seen: list[int], unseen: list[int]) -> list[float]:
        rows = scores.tolist()
        return sorted(max(row[c] for c in seen) - max(row[c] for c in unseen) for row in rows)

    judged = margins_by_hand(_cosines(train.images, torch.ones(3), data.attributes), [0, 1, 2], [3])
    scored = margins_by_hand(_cosines(train.images, scale, data.attributes), toy.seen, toy.unseen)
    share = sum(margin < 0.1 for margin in judged) / len(judged)
    # numpy's linear quantile of the run's sorted margins at that share
    position = share * (len(scored) - 1)
    low = int(position)
    high = min(low + 1, len(scored) - 1)
    expected = scored[low] + (position - low) * (scored[high] - scored[low])
    assert 0 < share < 1 and moved.chosen == 0.1
    assert moved.gamma == pytest.approx(expected, abs=1e-5)
    assert abs(moved.gamma - 0.1) > 0.01
