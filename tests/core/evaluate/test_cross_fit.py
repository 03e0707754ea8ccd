"""Cross-fitting: the halves are made as documented, a route is judged on the half it did not
choose on (checked against numbers worked out by hand), and the best of many noisy candidates
loses the optimism its own validation numbers have."""

from __future__ import annotations

import pytest
import torch

from zsk.core.evaluate.cross_fit import Fold, Half, cross_fitted, validation_folds
from zsk.core.evaluate.merit import best, gzsl_merit
from zsk.core.evaluate.protocol import calibrate

SEEN, UNSEEN = [0, 1], [2, 3, 4, 5]


def _labels(per_class: dict[int, int]) -> torch.Tensor:
    return torch.tensor([label for label, count in per_class.items() for _ in range(count)])


def test_with_four_held_out_classes_the_halves_hold_different_ones():
    labels = _labels({0: 7, 1: 6, 2: 3, 3: 3, 4: 3, 5: 3})
    folds = validation_folds(labels, SEEN, UNSEEN, splits=3)
    assert len(folds) == 6
    for first, second in zip(folds[::2], folds[1::2], strict=True):
        assert first.choose is second.judge and first.judge is second.choose
        assert not bool((first.choose.images & first.judge.images).any())
        assert bool((first.choose.images | first.judge.images).all())
        assert len(first.choose.unseen) == len(first.judge.unseen) == 2
        assert sorted(first.choose.unseen + first.judge.unseen) == UNSEEN
        for label in UNSEEN:  # a held-out class lies wholly on one side
            members = first.choose.images[labels == label]
            assert bool(members.all()) or not bool(members.any())
        for label, count in ((0, 7), (1, 6)):  # seen classes are halved, the odd one anywhere
            assert int(first.choose.images[labels == label].sum()) in {count // 2, -(-count // 2)}
    again = validation_folds(labels, SEEN, UNSEEN, splits=3)
    assert all(
        torch.equal(a.choose.images, b.choose.images) for a, b in zip(folds, again, strict=True)
    )
    assert not torch.equal(folds[0].choose.images, folds[2].choose.images)


def test_with_fewer_held_out_classes_each_ones_images_are_halved():
    labels = _labels({0: 4, 1: 4, 2: 6, 3: 5})
    folds = validation_folds(labels, SEEN, [2, 3], splits=2)
    assert len(folds) == 4
    for fold in folds:
        assert fold.choose.unseen == fold.judge.unseen == [2, 3]
        assert int(fold.choose.images[labels == 2].sum()) == 3


def test_a_split_whose_half_lacks_held_out_images_is_left_out():
    labels = _labels({0: 4, 1: 4, 2: 1})
    assert validation_folds(labels, SEEN, [2]) == []
    assert cross_fitted([torch.zeros(9, 3)], labels, SEEN, [], zsl_by_gzsl=True) is None


def _predicting(predicted: list[int], classes: int = 6) -> torch.Tensor:
    """Scores 1 on each image's predicted class, 0 elsewhere."""
    return torch.nn.functional.one_hot(torch.tensor(predicted), classes).float()


def test_a_route_is_judged_on_the_half_it_did_not_choose_on():
    # half one: seen images 0 and 2, held-out classes 2 and 3; half two: the rest, 4 and 5
    labels = torch.tensor([0, 0, 1, 1, 2, 3, 4, 5])
    one = torch.tensor([True, False, True, False, True, True, False, False])
    folds = [
        Fold(Half(one, [2, 3]), Half(~one, [4, 5])),
        Fold(Half(~one, [4, 5]), Half(one, [2, 3])),
    ]
    lucky = _predicting([0, 0, 1, 1, 2, 3, 5, 4])  # right on half one, swaps 4 and 5
    steady = _predicting([0, 0, 1, 1, 2, 2, 4, 5])  # calls 3 a 2, right on half two
    # by hand: choosing on half one takes `lucky` (H 1 against 2/3), which scores u = 0 on half
    # two: H 0, ZSL 0; choosing on half two takes `steady` (H 1 against 0), which scores
    # u = 1/2, s = 1 on half one: H 2/3, ZSL 1/2
    for zsl_by_gzsl in (True, False):
        record = cross_fitted([lucky, steady], labels, SEEN, folds, zsl_by_gzsl)
        assert record.folds == 2
        assert record.h == pytest.approx((0 + 2 / 3) / 2)
        assert record.zsl_top1 == pytest.approx((0 + 1 / 2) / 2)


def test_the_best_of_many_noisy_candidates_is_not_flattered():
    generator = torch.Generator().manual_seed(0)
    labels = _labels({0: 10, 1: 10, 2: 10, 3: 10, 4: 10, 5: 10})
    noisy = [torch.randn(60, 6, generator=generator) for _ in range(20)]
    merits = [gzsl_merit(scores, labels, SEEN, UNSEEN) for scores in noisy]
    flattered = merits[best([merit for _, merit in merits])][0].h
    folds = validation_folds(labels, SEEN, UNSEEN)
    honest = cross_fitted(noisy, labels, SEEN, folds, zsl_by_gzsl=False)
    assert honest.folds == 10
    assert flattered > honest.h + 0.1
    # below even a typical candidate's own H (which only its constant flatters)
    typical = sorted(calibrate(scores, labels, SEEN, UNSEEN).h for scores in noisy)[10]
    assert honest.h < typical
    assert honest.zsl_top1 == pytest.approx(0.5, abs=0.15)  # two held-out classes per half
