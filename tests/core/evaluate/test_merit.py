"""Choosing among candidates: the best accuracy wins, the likelihood breaks a tie of
accuracies, the first candidate wins where both tie, and accuracies that differ only in the
last bits of a floating-point sum count as equal."""

from __future__ import annotations

import pytest

from zsk.core.evaluate.merit import best

#: Ten classes each right on every image, their accuracies summed a tenth at a time.
SUMMED_ONE = sum([0.1] * 10)


def test_the_highest_wins_and_the_first_among_equals():
    assert best([0.2, 0.7, 0.5]) == 1
    assert best([0.7, 0.2, 0.7]) == 0
    assert best([(0.5, -2.0), (0.5, -1.0), (0.4, 0.0)]) == 1
    assert best([(0.5, -1.0), (0.5, -1.0)]) == 0


def test_rounding_in_a_sum_is_no_lead():
    assert SUMMED_ONE < 1.0
    assert best([SUMMED_ONE, 1.0]) == 0
    assert best([(1.0, -3.0), (SUMMED_ONE, -1.0)]) == 1  # the likelihood decides
    assert best([1.0 - 1e-6, 1.0]) == 1


def test_no_candidates_is_an_error():
    with pytest.raises(ValueError, match="no candidates"):
        best([])
