"""The evaluation zoo: its writer, its unseen choice, and the hand-written baseline's metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmarks.studies.results import put
from benchmarks.studies.zoo.baseline import gzsl, per_class_accuracy
from benchmarks.studies.zoo.folder import pick_unseen, write_folder
from benchmarks.studies.zoo.run import KEY
from benchmarks.studies.zoo.sets import SETS, write_set
from benchmarks.studies.zoo.table import render


def test_pick_unseen_keeps_every_attribute_value_among_the_seen_classes():
    values = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]], dtype=float)
    names = [f"c{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        unseen = pick_unseen(names, values, 2, rng)
        rest = values[[i for i, n in enumerate(names) if n not in unseen]]
        assert rest.max(0).tolist() == [1, 1] and rest.min(0).tolist() == [0, 0]
    with pytest.raises(ValueError):
        pick_unseen(names[:2], values[:2], 1, rng)  # either choice loses a value


def test_write_folder_writes_the_image_folder_layout(tmp_path):
    def draw(label, rng):
        return np.full((4, 6, 3), label * 50 + int(rng.integers(0, 5)), dtype=np.uint8)

    values = np.array([[0.1, 1.0], [0.9, 0.0], [0.5, 0.5]])
    write_folder(tmp_path, ["a", "b", "c"], ["p", "q"], values, ["c"], [2, 1, 3], draw, 7, {})
    assert (tmp_path / "attributes.csv").read_text().splitlines() == [
        "class,p,q",
        "a,0.1000,1.0000",
        "b,0.9000,0.0000",
        "c,0.5000,0.5000",
    ]
    assert (tmp_path / "seen.txt").read_text() == "a\nb\n"
    assert (tmp_path / "unseen.txt").read_text() == "c\n"
    assert [len(list((tmp_path / "images" / c).iterdir())) for c in "abc"] == [2, 1, 3]
    assert json.loads((tmp_path / "zoo.json").read_text())["images"] == 6
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        write_folder(tmp_path, ["a"], ["p"], np.array([[2.0]]), [], [1], draw, 0, {})


def test_a_drawn_set_is_the_same_bytes_for_the_same_seed(tmp_path):
    first, second = (write_set("textures", tmp_path / name) for name in ("one", "two"))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) > 1000
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files[::50])
    assert set(SETS) >= {"digits", "glyphs", "synth", "textures", "scenes", "photo"}


def test_baseline_metrics_match_hand_computed_ones():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 0, 0])
    assert per_class_accuracy(predicted, labels) == pytest.approx((0.5 + 1 + 1 / 3) / 3)
    # classes 0, 1 seen; 2 unseen; gamma 0.25 lowers seen scores
    scores = torch.tensor([[0.9, 0.1, 0.8], [0.2, 0.7, 0.5], [0.6, 0.1, 0.5], [0.1, 0.2, 0.3]])
    u, s, h = gzsl(scores, torch.tensor([0, 1, 2, 2]), [0, 1], 0.25)
    # after: [0.65, -0.15, 0.8] -> 2; [-0.05, 0.45, 0.5] -> 2; [0.35,-0.15,0.5] -> 2; -> 2
    assert (u, s) == (1.0, 0.0) and h == 0.0
    u, s, h = gzsl(scores, torch.tensor([0, 1, 2, 2]), [0, 1], 0.0)
    assert (u, s) == (0.5, 1.0) and h == pytest.approx(2 * 0.5 / 1.5)


def _record(method, seed, zsl, h, source="validation run runs/x/validation (2 held-out classes)"):
    if method == "baseline":
        return {"set": "digits", "method": method, "seed": seed, "train_cpu_seconds": 10.0,
                "baseline": {"zsl_top1": zsl, "gzsl": {"h": h}, "validation_h": h / 2,
                             "steps": 250}}  # fmt: skip
    predicates = {"real_test_unseen": {"loop": 0.9}, "imagined_unseen": {"loop": 0.8}}
    found = {"zsl_top1": zsl, "gzsl": {"h": h, "calibration": {"source": source, "val_h": h / 2}},
             "generative": {"zsl_top1": 0.3}, "generated_attribute_accuracy": 0.7,
             "attribute_probe": {"real_test_unseen": 0.8, "per_predicate": predicates}}  # fmt: skip
    found["step"] = 100 if method == "gan" else 400
    return {"set": "digits", "method": method, "seed": seed, "train_cpu_seconds": 10.0,
            "eval_cpu_seconds": 5.0, "eval": found}  # fmt: skip


def test_table_shows_mean_and_spread_and_says_where_the_default_loses(tmp_path):
    results = tmp_path / "results.jsonl"
    scores = {"gan": ([0.5, 0.6, 0.7], [0.4, 0.4, 0.4]), "nogan": ([0.5, 0.5, 0.5], [0.5] * 3)}
    scores["baseline"] = ([0.2, 0.3, 0.4], [0.1, 0.2, 0.3])
    for method, (zsl, h) in scores.items():
        for seed in range(3):
            record = _record(method, seed, zsl[seed], h[seed])
            put(results, record, KEY)
    text = render(results)
    assert "| digits | zsk default (GAN) | 0.600 ± 0.100 | 0.400 ± 0.000 | 0.300 ± 0.000 |" in text
    # real images each recognition network was updated on: steps × its batch (32; 64 by hand)
    assert "| hand-written | 0.300 ± 0.100 | 0.200 ± 0.100 | — | — | 10 | 16.0k | — |" in text
    assert "| 0.700 ± 0.000 (0.800) | 10 | 3.2k | 5 |" in text
    assert "networks, no GAN | 0.500 ± 0.000 | 0.500 ± 0.000 | — | — | 10 | 12.8k | 5 |" in text
    assert "| digits | wins | loses to same networks, no GAN |" in text
    assert "| digits | -0.100 | loop (-0.10) |" in text
    assert "| digits | 0.200 ± 0.000 | 0.250 ± 0.000 | 0.100 ± 0.050 |" in text  # validation H
    bad = _record("gan", 0, 0.5, 0.5, source="pseudo-unseen classes the run was trained on")
    put(results, bad, KEY)  # in place of seed 0's record
    with pytest.raises(ValueError, match="not calibrated on validation"):
        render(results)
