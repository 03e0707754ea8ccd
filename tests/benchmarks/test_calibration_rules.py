"""The calibration-rule study: its rules on known curves and scores, and its table."""

from __future__ import annotations

import torch

from benchmarks.studies.results import put
from benchmarks.studies.zoo.calibration_rules import (
    KEY,
    RULES,
    TEST_BEST,
    Margins,
    Validation,
    exact,
    gzsl_scores,
    hand_grid,
    median_shifted,
    share_matched,
    smoothed_best,
    table,
    with_unseen_distractors,
)

#: Margins that leave a rule's constant where the validation network put it.
SAME_SCALE = Margins(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]))


def test_the_smoothed_rule_prefers_a_plateau_to_a_higher_spike():
    gammas = torch.linspace(-1, 1, 201, dtype=torch.float64)
    h = torch.zeros(201, dtype=torch.float64)
    h[20] = 1.0  # a spike at γ = -0.8
    h[150:171] = 0.9  # a plateau from 0.5 to 0.7
    # every window within the plateau averages 0.9 (0.55 to 0.65): the one nearest 0
    assert abs(smoothed_best(h, gammas) - 0.55) < 1e-9
    # a flat curve: the constant nearest 0
    assert abs(smoothed_best(torch.full((201,), 0.5, dtype=torch.float64), gammas)) < 1e-9


def test_the_exact_and_grid_rules_on_scores_with_one_switch():
    # two seen classes (0, 1), one unseen (2); the unseen images' best seen score exceeds their
    # unseen score by 0.3, the seen images' by 0.6: any γ in (0.3, 0.6) gives H = 1
    scores = torch.tensor(
        [[0.9, 0.1, 0.3], [0.1, 0.9, 0.3], [0.8, 0.0, 0.5], [0.0, 0.8, 0.5]], dtype=torch.float64
    )
    plain = gzsl_scores(scores, torch.tensor([0, 1, 2, 2]), [0, 1], [2])
    validation = Validation(plain, plain, SAME_SCALE)
    assert abs(exact(validation) - 0.45) < 1e-9  # the midpoint of the switches
    assert abs(hand_grid(validation) - 0.31) < 1e-9  # the first grid point above


def test_an_unseen_class_as_distractor_moves_the_constant():
    # seen classes 0, 1; held-out class 2; the data set's unseen class 3 scores 0.7 on the
    # first seen image, so with it among the candidates that image turns unseen above γ = 0.2
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.3, 0.7],
            [0.1, 0.9, 0.3, 0.2],
            [0.6, 0.0, 0.5, 0.0],  # held-out image, switches to its class above γ = 0.1
            [0.8, 0.0, 0.3, 0.0],  # held-out image, above γ = 0.5
        ],
        dtype=torch.float64,
    )
    labels = torch.tensor([0, 1, 2, 2])
    validation = Validation(
        gzsl_scores(scores, labels, [0, 1], [2]),
        gzsl_scores(scores, labels, [0, 1], [2, 3]),
        SAME_SCALE,
    )
    # alone: H = 1 on (0.5, 0.6); with the distractor H = 2/3 on (0.1, 0.2) and on (0.5, 0.6),
    # and the constant nearest 0 wins
    assert abs(exact(validation) - 0.55) < 1e-9
    assert abs(with_unseen_distractors(validation) - 0.15) < 1e-9


def test_the_constant_carried_into_the_full_runs_scale():
    # the exact maximum is 0.45 (the scores of the test above); in the validation network 4 of
    # 10 training images have a margin below it, and the full run's margins are its doubled
    scores = torch.tensor(
        [[0.9, 0.1, 0.3], [0.1, 0.9, 0.3], [0.8, 0.0, 0.5], [0.0, 0.8, 0.5]], dtype=torch.float64
    )
    plain = gzsl_scores(scores, torch.tensor([0, 1, 2, 2]), [0, 1], [2])
    margins = torch.arange(1, 11, dtype=torch.float64) / 10
    validation = Validation(plain, plain, Margins(margins, 2 * margins))
    # medians 0.55 and 1.1: moved by 0.55
    assert abs(median_shifted(validation) - (0.45 + 0.55)) < 1e-9
    # the share 0.4 of the full run's margins 0.2 ... 2.0: numpy's linear quantile, 0.92
    assert abs(share_matched(validation) - (0.2 + 0.4 * 9 * 0.2)) < 1e-9


def test_the_table_gives_each_rule_per_set_and_the_mean(tmp_path):
    results = tmp_path / "rules.jsonl"
    for seed, h in enumerate((0.4, 0.6)):
        rules = {name: {"h": h} for name in RULES} | {TEST_BEST: {"h": 0.9}}
        rules["smoothed maximum"] = {"h": h + 0.1}
        put(
            results,
            {"set": "digits", "seed": seed, "recogniser": "no-GAN twin", "rules": rules},
            KEY,
        )
    text = table(results)
    assert "| digits | 2 | 0.500 ± 0.141 | 0.500 ± 0.141 | 0.500 ± 0.141 | 0.600 ± 0.141 |" in text
    assert (
        "| mean over sets |  | 0.500 | 0.500 | 0.500 | 0.600 | 0.500 | 0.500 | 0.500 | 0.900 |"
        in text
    )
    assert text.splitlines()[-1] == (
        "| sets above the exact maximum |  | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 1 |"
    )
