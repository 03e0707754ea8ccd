"""Cross-fitting: the folds are dealt as documented, each fold is predicted with what the route
chose on the other folds (checked against numbers worked out by hand), and the best of many
noisy candidates loses the optimism its own validation numbers have."""

from __future__ import annotations

import pytest
import torch

from zsk.core.evaluate.cross_fit import MOST_FOLDS, cross_fitted, validation_folds
from zsk.core.evaluate.merit import best, gzsl_merit
from zsk.core.evaluate.protocol import calibrate

SEEN, UNSEEN = [0, 1], [2, 3, 4, 5]


def _labels(per_class: dict[int, int]) -> torch.Tensor:
    return torch.tensor([label for label, count in per_class.items() for _ in range(count)])


def test_each_fold_holds_one_held_out_class_and_an_even_share_of_each_seen_class():
    labels = _labels({0: 7, 1: 6, 2: 3, 3: 3, 4: 2, 5: 3})
    folds = validation_folds(labels, SEEN, UNSEEN)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3]
    held = [sorted(set(labels[(folds == k) & (labels >= 2)].tolist())) for k in range(4)]
    assert sorted(c for classes in held for c in classes) == UNSEEN
    assert all(len(classes) == 1 for classes in held)
    for label, count in ((0, 7), (1, 6)):
        per_fold = torch.bincount(folds[labels == label], minlength=4)
        assert int(per_fold.sum()) == count and int(per_fold.max() - per_fold.min()) <= 1
    assert torch.equal(folds, validation_folds(labels, SEEN, UNSEEN))


def test_many_held_out_classes_share_at_most_ten_folds_and_one_gives_none():
    unseen = list(range(2, 2 + MOST_FOLDS + 2))
    labels = _labels({c: 2 for c in SEEN + unseen})
    folds = validation_folds(labels, SEEN, unseen)
    classes_per_fold = [len(set(labels[(folds == k) & (labels >= 2)].tolist())) for k in range(10)]
    assert sorted(classes_per_fold) == [1] * 8 + [2, 2]
    assert validation_folds(_labels({0: 4, 1: 4, 2: 3}), SEEN, [2]).numel() == 0
    assert cross_fitted([torch.zeros(11, 3)], labels, SEEN, [2], torch.empty(0), True) is None


def _predicting(predicted: list[int], classes: int = 5) -> torch.Tensor:
    """Scores 1 on each image's predicted class, 0 elsewhere."""
    return torch.nn.functional.one_hot(torch.tensor(predicted), classes).float()


def test_each_fold_is_predicted_by_what_was_chosen_on_the_others():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 3, 4])
    folds = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    lucky = _predicting([0, 0, 0, 1, 1, 1, 2, 2, 4])  # calls 3 a 2
    steady = _predicting([0, 0, 0, 1, 1, 1, 3, 3, 4])  # calls 2 a 3
    # by hand, each candidate alone: u 2/3, s 1, H 0.8. Fold 0 (class 2) is predicted by the
    # choice on classes 3 and 4: steady (H 1 against 2/3), wrong on 2; fold 1 (class 3) by
    # lucky, wrong on 3; fold 2 (class 4): the two tie on classes 2 and 3, in H and in
    # likelihood, so the first, lucky, right on 4. Pooled: u 1/3, s 1, H 0.5; ZSL 1/3.
    for zsl_by_gzsl in (True, False):
        record = cross_fitted([lucky, steady], labels, [0, 1], [2, 3, 4], folds, zsl_by_gzsl)
        assert record.folds == 3
        assert record.h == pytest.approx(0.5)
        assert record.zsl_top1 == pytest.approx(1 / 3)
    assert calibrate(lucky, labels, [0, 1], [2, 3, 4]).h == pytest.approx(0.8)


def test_the_best_of_many_noisy_candidates_is_not_flattered():
    generator = torch.Generator().manual_seed(0)
    labels = _labels({c: 10 for c in SEEN + UNSEEN})
    noisy = [torch.randn(60, 6, generator=generator) for _ in range(20)]
    merits = [gzsl_merit(scores, labels, SEEN, UNSEEN) for scores in noisy]
    flattered = merits[best([merit for _, merit in merits])][0].h
    folds = validation_folds(labels, SEEN, UNSEEN)
    honest = cross_fitted(noisy, labels, SEEN, UNSEEN, folds, zsl_by_gzsl=False)
    assert honest.folds == 4
    assert flattered > honest.h + 0.1
    # below even a typical candidate's own H (which only its constant flatters)
    typical = sorted(calibrate(scores, labels, SEEN, UNSEEN).h for scores in noisy)[10]
    assert honest.h < typical
    assert honest.zsl_top1 == pytest.approx(0.25, abs=0.15)  # four held-out classes


def test_a_distractor_competes_on_the_unseen_side_without_images():
    # one-hot scores: every image right among the six classes; a seventh class (6) has no
    # images and competes as a distractor
    labels = _labels({0: 4, 1: 4, 2: 2, 3: 2, 4: 2, 5: 2})
    right = torch.nn.functional.one_hot(labels, 7).double()
    folds = validation_folds(labels, SEEN, UNSEEN)
    alone = cross_fitted((right,), labels, SEEN, UNSEEN, folds, True)
    assert alone.h == pytest.approx(1.0)
    # a distractor that never wins changes nothing
    assert cross_fitted((right,), labels, SEEN, UNSEEN, folds, True, [6]) == alone
    # one that beats every class on every image leaves no held-out image right: H 0, while
    # ZSL (among the held-out classes only) is untouched
    tempting = right.clone()
    tempting[:, 6] = 5.0
    fooled = cross_fitted((tempting,), labels, SEEN, UNSEEN, folds, True, [6])
    assert (fooled.h, fooled.zsl_top1) == (0.0, pytest.approx(1.0))
