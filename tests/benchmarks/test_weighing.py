"""The weighing study's own parts: every weighing scored, the rules reading validation only,
the rule named after ``zsk eval`` choosing what zsk eval chooses."""

from __future__ import annotations

import pytest
import torch

from benchmarks.studies import weighing
from benchmarks.studies.results import put, read
from zsk.core.evaluate.combined import TEMPERATURES, WEIGHTS, combined_route
from zsk.core.evaluate.route_scores import Classes, RouteScores

# seen 0, 1 and unseen 2, 3 at test; on validation, classes 0 and 1 seen, 4 and 5 held out
CLASSES = Classes(seen=[0, 1], unseen=[2, 3], validation_seen=[0, 1], validation_unseen=[4, 5])


def _toy_routes(seed: int) -> tuple[RouteScores, RouteScores]:
    generator = torch.Generator().manual_seed(seed)
    validation_labels = torch.tensor([0, 1, 4, 5, 0, 1, 4, 5])
    test_labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])

    def route(noise: float) -> RouteScores:
        def scores(labels: torch.Tensor) -> torch.Tensor:
            truth = torch.nn.functional.one_hot(labels, 6).float()
            return truth + noise * torch.randn(len(labels), 6, generator=generator)

        return RouteScores(
            scores(validation_labels),
            validation_labels,
            scores(test_labels),
            test_labels,
            CLASSES,
            "toy",
        )

    return route(0.6), route(1.5)


def test_every_weighing_is_scored_and_the_embedding_alone_reads_its_own_argmax():
    embedding, generative = _toy_routes(0)
    rows = weighing.weighings(embedding, generative)
    assert len(rows) == len(TEMPERATURES) * len(WEIGHTS)
    alone = next(row for row in rows if (row["temperature"], row["weight"]) == (10.0, 1.0))
    # independently: per-class accuracy of the cosines' argmax among the unseen classes 2, 3
    unseen = embedding.test[[2, 3, 6, 7]][:, [2, 3]]  # the test images of classes 2, 3
    predicted = unseen.argmax(1)
    truth = torch.tensor([0, 1, 0, 1])
    per_class = [float((predicted[truth == c] == c).float().mean()) for c in (0, 1)]
    assert alone["test_zsl"] == pytest.approx(sum(per_class) / 2)
    for row in rows:
        assert 0 <= row["val_h"] <= 1 and 0 <= row["test_h"] <= 1
        assert row["val_zsl_nll"] >= 0 and row["val_gzsl_nll"] >= 0


def test_the_rule_named_after_zsk_eval_chooses_what_zsk_eval_chooses():
    for seed in range(5):
        embedding, generative = _toy_routes(seed)
        rows = weighing.weighings(embedding, generative)
        by_h, by_zsl = weighing.RULES["accuracy, likelihood on ties (zsk eval)"](rows)
        chosen = combined_route(embedding, generative).combination
        assert (by_h["temperature"], by_h["weight"]) == (
            chosen.temperature,
            chosen.embedding_weight,
        )
        assert (by_zsl["temperature"], by_zsl["weight"]) == (
            chosen.zsl_temperature,
            chosen.zsl_embedding_weight,
        )


def test_no_rule_reads_the_test_numbers():
    embedding, generative = _toy_routes(1)
    rows = weighing.weighings(embedding, generative)
    scrambled = [row | {"test_h": 1 - row["test_h"], "test_zsl": -row["test_zsl"]} for row in rows]
    for rule in weighing.RULES.values():
        picks = [(pick["temperature"], pick["weight"]) for pick in rule(rows)]
        assert picks == [(pick["temperature"], pick["weight"]) for pick in rule(scrambled)]


def test_the_table_gives_each_rules_test_numbers_per_set_and_grid(tmp_path):
    path = tmp_path / "results.jsonl"
    for seed in range(2):
        embedding, generative = _toy_routes(seed)
        rows = weighing.weighings(embedding, generative)
        record = {"grid": "toy grid", "set": "toy", "seed": seed, "weighings": rows}
        put(path, record, ("grid", "set", "seed"))
    table = weighing.table(path)
    assert table.startswith("toy grid:")
    fixed = [weighing.RULES["fixed: T 10, w ½"](r["weighings"])[0] for r in read(path)]
    zsl = sum(pick["test_zsl"] for pick in fixed) / 2
    h = sum(pick["test_h"] for pick in fixed) / 2
    line = next(line for line in table.splitlines() if line.startswith("| fixed: T 10, w ½ |"))
    assert line.endswith(f"| {zsl:.3f} / {h:.3f} |")
