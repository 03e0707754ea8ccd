"""The zero-shot metrics against hand-computed cases and brute-force sweeps."""

from __future__ import annotations

import pytest
import torch

from zsk.core.evaluate.protocol import (
    ausuc,
    calibrated_stacking,
    choose_calibration,
    gzsl_accuracy,
    harmonic_mean,
    per_class_accuracy,
    seen_unseen_curve,
)


def test_per_class_accuracy_averages_classes_not_images():
    labels = torch.tensor([0, 0, 0, 1])
    predictions = torch.tensor([0, 0, 1, 1])
    # class 0: 2/3, class 1: 1/1 -> (2/3 + 1) / 2; the image average would be 3/4
    assert per_class_accuracy(predictions, labels) == pytest.approx((2 / 3 + 1) / 2)


def test_per_class_accuracy_ignores_classes_without_images():
    labels = torch.tensor([3, 3, 7])
    predictions = torch.tensor([3, 0, 0])
    assert per_class_accuracy(predictions, labels) == pytest.approx((1 / 2 + 0) / 2)


def test_per_class_accuracy_refuses_empty_labels():
    with pytest.raises(ValueError, match="empty"):
        per_class_accuracy(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))


@pytest.mark.parametrize(("u", "s", "h"), [(0.5, 0.25, 1 / 3), (0.6, 0.6, 0.6), (0.0, 0.0, 0.0)])
def test_harmonic_mean(u, s, h):
    assert harmonic_mean(u, s) == pytest.approx(h)


def test_calibrated_stacking_lowers_seen_columns_only():
    scores = torch.tensor([[1.0, 2.0, 3.0]])
    seen = torch.tensor([True, False, True])
    assert calibrated_stacking(scores, seen, 0.5).tolist() == [[0.5, 2.0, 2.5]]


def _toy_scores():
    """Classes 0, 1 seen and 2 unseen; two images per class."""
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.5],  # class 0: right as seen; switch d = 0.9 - 0.5 = 0.4
            [0.2, 0.8, 0.1],  # class 0: wrong among seen (picks 1)
            [0.1, 0.9, 0.0],  # class 1: right; d = 0.9
            [0.2, 0.6, 0.5],  # class 1: right; d = 0.1
            [0.7, 0.1, 0.4],  # class 2: unseen; d = 0.3
            [0.3, 0.2, 0.6],  # class 2: right without calibration; d = -0.3
        ]
    )
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    seen = torch.tensor([True, True, False])
    return scores, labels, seen


def test_gzsl_accuracy_by_hand():
    scores, labels, seen = _toy_scores()
    plain = gzsl_accuracy(scores, labels, seen)
    # seen: class 0 1/2, class 1 2/2 -> 0.75; unseen: class 2 1/2
    assert (plain.u, plain.s) == pytest.approx((0.5, 0.75))
    assert plain.h == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    shifted = gzsl_accuracy(scores, labels, seen, gamma=0.35)
    # gamma 0.35 flips images with d < 0.35 to unseen: image 3 (d 0.1) and image 4 (d 0.3)
    assert (shifted.u, shifted.s) == pytest.approx((1.0, (1 / 2 + 1 / 2) / 2))


def _brute_force_points(scores, labels, seen, gammas):
    return [gzsl_accuracy(scores, labels, seen, float(g)) for g in gammas]


def test_curve_matches_a_brute_force_sweep():
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(60, 7, generator=generator)
    labels = torch.randint(0, 7, (60,), generator=generator)
    labels[:2] = torch.tensor([0, 5])  # both groups present
    seen = torch.tensor([True, True, True, True, False, False, False])
    curve = seen_unseen_curve(scores, labels, seen)
    for point, u, s in zip(
        _brute_force_points(scores, labels, seen, curve.gammas), curve.u, curve.s, strict=True
    ):
        assert (point.u, point.s) == pytest.approx((float(u), float(s)))
    # every switching value is crossed: one point per distinct switch plus the all-seen end
    assert (
        len(curve.gammas)
        == len(torch.unique(scores[:, :4].max(1)[0] - scores[:, 4:].max(1)[0])) + 1
    )
    assert curve.u[0] == 0 and curve.s[-1] == 0
    assert bool((curve.u.diff() >= 0).all()) and bool((curve.s.diff() <= 0).all())


def test_curve_of_toy_scores_by_hand():
    scores, labels, seen = _toy_scores()
    curve = seen_unseen_curve(scores, labels, seen)
    # switches sorted: -0.3 (unseen image, right), 0.1 (seen, right), 0.3 (unseen, right),
    # 0.4 (seen, right), 0.7 (seen, wrong among the seen: never counts), 0.9 (seen, right).
    # Each unseen image weighs 1/2 in u (one class, two images), each seen image 1/4 in s.
    assert curve.u.tolist() == pytest.approx([0.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0])
    assert curve.s.tolist() == pytest.approx([0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0.0])


def test_ausuc_of_known_curves():
    assert ausuc(torch.tensor([0.0, 0.5, 1.0]), torch.tensor([1.0, 0.5, 0.0])) == pytest.approx(0.5)
    # a perfect classifier: the unit square
    assert ausuc(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])) == pytest.approx(0.5)
    assert ausuc(torch.tensor([0.0, 1.0, 1.0]), torch.tensor([1.0, 1.0, 0.0])) == pytest.approx(1.0)
    # a step curve: s = 0.8 until u = 0.6, then 0.2 until u = 1
    u = torch.tensor([0.0, 0.6, 0.6, 1.0, 1.0])
    s = torch.tensor([0.8, 0.8, 0.2, 0.2, 0.0])
    assert ausuc(u, s) == pytest.approx(0.8 * 0.6 + 0.2 * 0.4)


def test_ausuc_closes_open_ends_to_the_axes():
    # ends off the axes: (0.2, 0.5) -> extended flat to u = 0; (0.8, 0.1) dropped to s = 0
    u = torch.tensor([0.2, 0.8])
    s = torch.tensor([0.5, 0.1])
    assert ausuc(u, s) == pytest.approx(0.2 * 0.5 + 0.6 * (0.5 + 0.1) / 2)


def test_ausuc_of_toy_curve_by_hand():
    scores, labels, seen = _toy_scores()
    curve = seen_unseen_curve(scores, labels, seen)
    # points (u, s): (0, .75) (.5, .75) (.5, .5) (1, .5) (1, .25) (1, .25) (1, 0)
    assert ausuc(curve.u, curve.s) == pytest.approx(0.5 * 0.75 + 0.5 * 0.5)


def test_choose_calibration_maximises_h_and_prefers_gamma_near_zero():
    scores, labels, seen = _toy_scores()
    chosen = choose_calibration(scores, labels, seen)
    # H along the curve: 0, .6, .5, 2/3, .4, .4, 0 -> the (1, .5) point, between switches .3 and .4
    assert chosen.h == pytest.approx(2 / 3)
    assert (chosen.u, chosen.s) == pytest.approx((1.0, 0.5))
    assert 0.3 < chosen.gamma <= 0.4
    again = gzsl_accuracy(scores, labels, seen, chosen.gamma)
    assert (again.u, again.s) == pytest.approx((chosen.u, chosen.s))


def test_choose_calibration_tie_takes_the_gamma_nearest_zero():
    # one seen image (class 0) and one unseen image (class 1), both right in their group;
    # switches: seen image d = 1, unseen image d = -1 -> at any gamma in (-1, 1] both are right
    scores = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    labels = torch.tensor([0, 1])
    seen = torch.tensor([True, False])
    chosen = choose_calibration(scores, labels, seen)
    assert chosen.h == pytest.approx(1.0)
    assert chosen.gamma == pytest.approx(0.0)
