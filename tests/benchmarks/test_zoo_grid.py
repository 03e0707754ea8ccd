"""The recommended spec's zoo grid and the step costs: their tables from written records."""

from __future__ import annotations

import sys

from benchmarks.speed.budget import spent_cpu
from benchmarks.speed.budget import table as budget_table
from benchmarks.speed.step_cost import interleaved_ms
from benchmarks.speed.step_cost import table as step_table
from benchmarks.studies.results import put
from benchmarks.studies.zoo.grid import (
    BY_CROSS_FITTED_ZSL,
    BY_VALIDATION_H,
    DEFAULT,
    FIRST_STAGE,
    HAND_WRITTEN,
    KEY,
    NO_GAN,
    STAGE_ROUTES,
    compare,
    staged_record,
    table,
)


def _route(zsl: float, h: float, val_h: float = 0.5) -> dict:
    return {"zsl_top1": zsl, "h": h, "val_h": val_h}


def _records(seed: int) -> list[dict]:
    base = {"set": "textures", "seed": seed, "cpu_minutes": 1.0}
    stage_routes = {
        STAGE_ROUTES[FIRST_STAGE]: _route(0.5, 0.3),
        "features/generative": _route(0.4, 0.4 + 0.1 * seed, val_h=0.9),
        "recogniser/embedding+features/generative": _route(0.6 + 0.1 * seed, 0.5),
    }
    headline = {"route": "recogniser/embedding+features/generative", **_route(0.7, 0.6, 0.8)}
    two_stage = {
        "eval": {"routes": stage_routes, "headline": headline},
        "train_cpu_seconds": 20,
        "ridge": {"zsl_top1": 0.3, "gzsl": {"h": 0.2}, "cpu_seconds": 1},
    }
    no_gan = {"eval": {"zsl_top1": 0.5, "gzsl": {"h": 0.5, "calibration": {"val_h": 0.7}}}}
    hand = {"baseline": {"zsl_top1": 0.6, "gzsl": {"h": 0.3 + 0.1 * seed}}}
    methods = {
        "two-stage": two_stage,
        "no-gan": no_gan | {"train_cpu_seconds": 21},
        "baseline": hand | {"train_cpu_seconds": 22},
    }
    return [base | {"method": method} | record for method, record in methods.items()]


def test_grid_table_gives_every_route_mean_spread_and_cpu(tmp_path):
    results = tmp_path / "results.jsonl"
    for seed in range(3):
        for record in _records(seed):
            put(results, record, KEY)
    text = table(results)
    assert f"| textures | {DEFAULT} | 0.700 ± 0.000 | 0.600 ± 0.000 | 20 |" in text
    assert f"| textures | {HAND_WRITTEN} | 0.600 ± 0.000 | 0.400 ± 0.100 | 22 |" in text
    assert f"| textures | {NO_GAN} | 0.500 ± 0.000 | 0.500 ± 0.000 | 21 |" in text
    assert "| the two combined | 0.700 ± 0.100 | 0.500 ± 0.000 | 20 |" in text
    # the route plain validation H would have headlined: the feature GAN's (0.9 against 0.5)
    assert f"| {BY_VALIDATION_H} | 0.400 ± 0.000 | 0.500 ± 0.100 | 20 |" in text
    assert BY_CROSS_FITTED_ZSL not in text  # records without cross-fitted numbers
    for seed in range(3):
        two_stage = _records(seed)[0]
        for name, cross_zsl in zip(two_stage["eval"]["routes"], (0.6, 0.2, 0.6), strict=True):
            fitted = {"h": 0.5, "zsl_top1": cross_zsl, "folds": 4}
            two_stage["eval"]["routes"][name]["cross_fitted"] = fitted
        put(results, two_stage, KEY)
    # the first of the two routes of highest cross-fitted top-1: the first stage's
    assert f"| {BY_CROSS_FITTED_ZSL} | 0.500 ± 0.000 | 0.300 ± 0.000 | 20 |" in table(results)
    assert "| ridge on its φ(x), CPU added | 0.300 ± 0.000 | 0.200 ± 0.000 | 1 |" in text
    # the verdicts: ZSL 0.7 vs 0.6 with no spread is ahead; H 0.6 vs 0.4 ± 0.1 is ahead (0.2 >
    # 0.1); H against the first stage's 0.3, ahead; validation H 0.8 against no-GAN's 0.7
    # what zsk train spent of the minute asked: 20 and 21 CPU s
    assert text.splitlines()[-1] == "| textures | 0.33 (0.33–0.33) | 0.35 (0.35–0.35) |"
    verdict = text.split("\n\n")[1].splitlines()[-1]
    assert verdict == (
        "| textures | ahead (0.700 vs 0.600) | ahead (0.600 vs 0.400) | ahead (0.600 vs 0.300) "
        "| ahead (0.800 vs 0.700) |"
    )
    put(results, _records(3)[0], KEY)  # a fourth seed of one method only: n is not shown
    assert "| the two combined | 0.750 ± 0.129 |" in table(results)


def test_compare_calls_means_within_the_larger_spread_a_tie():
    assert compare([0.5, 0.6, 0.7], [0.55, 0.55, 0.55]) == "tie (0.600 vs 0.550)"
    assert compare([0.3, 0.3, 0.3], [0.5, 0.6, 0.7]) == "behind (0.300 vs 0.600)"
    assert compare([0.9, 0.9, 0.9], [0.5, 0.6, 0.7]) == "ahead (0.900 vs 0.600)"


def test_staged_record_keeps_every_calibrated_route_and_the_headline():
    gzsl = {"h": 0.4, "calibration": {"val_h": 0.6}}
    fitted = {"h": 0.55, "zsl_top1": 0.45, "folds": 10}
    evaluation = {
        "stages": {
            "recogniser": {
                "routes": {"embedding": {"zsl_top1": 0.5, "gzsl": gzsl, "cross_fitted": fitted}}
            },
            "features": {
                "routes": {
                    "generative": {"zsl_top1": 0.3, "gzsl": gzsl},
                    "published_protocol": {"zsl_top1": 0.2, "gzsl": {"h": 0.1}},
                }
            },
        },
        "combined": {"recogniser/embedding+features/generative": {"zsl_top1": 0.7, "gzsl": gzsl}},
        "headline": {
            "route": "recogniser/embedding",
            "kind": "embedding",
            "zsl_route": "features/generative",
            "zsl_kind": "feature-generative",
            "zsl_top1": 0.3,
            "h": 0.4,
            "val_h": 0.6,
            "why": "...",
        },
    }
    record = staged_record(evaluation)
    assert record["routes"] == {
        "recogniser/embedding": _route(0.5, 0.4, 0.6) | {"cross_fitted": fitted},
        "features/generative": _route(0.3, 0.4, 0.6) | {"cross_fitted": None},
        "recogniser/embedding+features/generative": _route(0.7, 0.4, 0.6) | {"cross_fitted": None},
    }
    assert record["headline"] == {
        "route": "recogniser/embedding",
        "zsl_route": "features/generative",
        **_route(0.3, 0.4, 0.6),
    }


def test_step_cost_table_shows_each_rate_and_the_ratio(tmp_path):
    results = tmp_path / "results.jsonl"
    record = {
        "set": "glyphs",
        "image_size": 32,
        "no-gan": {"batch": 64, "ms": 25.0, "images_per_s": 2560, "gflop": 1.72},
        "image-gan": {"batch": 32, "ms": 100.0, "images_per_s": 320, "gflop": 4.3},
        "hand-written": {"batch": 64, "ms": 32.0, "images_per_s": 2000},
        "ratio": 1.28,
    }
    put(results, record, ("set",))
    row = step_table(results).splitlines()[-1]
    assert row == (
        "| glyphs | 1.72, 25.0 / 64, 2560 | 4.30, 100.0 / 32, 320 | 32.0 / 64, 2000 | **1.28** |"
    )
    put(results, record | {"ratio_quartiles": [1.214, 1.3]}, ("set",))
    assert step_table(results).splitlines()[-1].endswith("| **1.28** (1.21–1.30) |")


def test_step_cost_rounds_alternate_the_order_of_the_learners():
    calls: list[str] = []
    steps = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    times = interleaved_ms(steps, rounds=2)
    assert {name: len(found) for name, found in times.items()} == {"a": 2, "b": 2, "c": 2}
    measured = calls[9:]  # after 3 warm-up steps each
    assert measured == ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["c"] * 4 + ["b"] * 4 + ["a"] * 4


def test_budget_table_sets_what_zsk_train_spent_against_the_budget(tmp_path):
    results = tmp_path / "results.jsonl"
    record = {"set": "photo", "cpu_minutes": 0.4, "seed": 0, "asked_cpu_seconds": 24.0}
    key = ("set", "cpu_minutes", "seed")
    put(results, record | {"train_cpu_seconds": 27.6, "epochs": 95}, key)
    assert budget_table(results).splitlines()[-1] == "| photo | 27.6 (1.15) |"
    longer = {"cpu_minutes": 2.0, "asked_cpu_seconds": 120.0, "train_cpu_seconds": 114.0}
    put(results, record | longer | {"epochs": 400}, key)
    put(results, record | longer | {"set": "digits", "epochs": 300}, key)
    lines = budget_table(results).splitlines()
    assert lines[0].startswith("| set | asked 24 s: `zsk train` spent (÷ asked) | asked 120 s")
    assert lines[2:] == ["| photo | 27.6 (1.15) | 114.0 (0.95) |", "| digits | — | 114.0 (0.95) |"]


def test_spent_cpu_counts_the_childs_threads_without_thread_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    code = (
        "import os, time; assert 'OMP_NUM_THREADS' not in os.environ; "
        "end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    )
    cpu, wall = spent_cpu([sys.executable, "-c", code], tmp_path / "log")
    assert 0.3 <= cpu < 0.3 + 5 and wall >= cpu * 0.5
    assert (tmp_path / "log").read_text().startswith("$ ")


def test_grid_runs_the_hand_written_learner_on_the_two_stage_split_alone(tmp_path, monkeypatch):
    """`--methods two-stage baseline` needs no no-GAN twin: the hand-written learner reads the
    split from the two-stage run's recogniser and gets the CPU that run spent."""
    from benchmarks.studies.results import read
    from benchmarks.studies.zoo import grid

    def two_stage(data, work, seed, cpu_minutes):
        return {"train_cpu_seconds": 42.0, "eval": {}}

    given = []

    def run_baseline(work, spec, seed, cpu_seconds):
        given.append((spec.relative_to(work), seed, cpu_seconds))
        return {"train_cpu_seconds": cpu_seconds, "baseline": {"zsl_top1": 0.5}}

    monkeypatch.setattr(grid, "two_stage", two_stage)
    monkeypatch.setattr(grid, "run_baseline", run_baseline)
    arguments = ["--sets", "scenes", "--seeds", "1", "--methods", "two-stage", "baseline"]
    grid.main([str(tmp_path), *arguments, "--cpu-minutes", "1"])
    assert [str(spec) for spec, *_ in given] == ["two-stage/recogniser/spec.lock.yaml"]
    assert given[0][1:] == (1, 42.0)
    records = read(tmp_path / "results.jsonl")
    assert [(r["method"], r["set"], r["seed"]) for r in records] == [
        ("two-stage", "scenes", 1),
        ("baseline", "scenes", 1),
    ]
