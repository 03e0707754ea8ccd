"""The paired test of recogniser variants on a draw's test classes."""

from __future__ import annotations

import argparse
import json
import statistics

import yaml

from benchmarks.studies.results import put, read
from benchmarks.studies.zoo.paired import CONSTANT, KEY, run_pair, table
from zsk.core.data.synth import synthesize


def test_a_variant_trains_from_the_shared_spec_and_records_its_eval(tmp_path):
    synthesize(tmp_path / "data" / "synth", classes=20, unseen=4, images_per_class=3,
               min_size=20, max_size=24)  # fmt: skip
    args = argparse.Namespace(out=tmp_path, cpu_minutes=0.05, data_seed=7, variants=[CONSTANT])
    run_pair(args, "synth", 0)
    work = tmp_path / "runs" / "synth-0.05min-s0"
    shared = yaml.safe_load((work / "init.yaml").read_text())
    trained = yaml.safe_load((work / "recogniser--constant-learning-rate.yaml").read_text())
    epochs = shared["train"]["epochs"]
    assert shared["train"]["schedule"]["type"] == "constant_then_linear"  # zsk init's decay
    assert trained["train"] == shared["train"] | {"schedule": {"type": "constant"}}
    run_dir = work / "recogniser--constant-learning-rate"
    evaluation = json.loads((run_dir / "eval.json").read_text())
    embedding = evaluation["routes"]["embedding"]
    [record] = read(tmp_path / "results.jsonl")
    assert record["set"] == "synth" and record["variant"] == CONSTANT and record["data_seed"] == 7
    assert (record["zsl_top1"], record["h"]) == (embedding["zsl_top1"], embedding["gzsl"]["h"])
    assert record["val_h"] == embedding["gzsl"]["calibration"]["val_h"]
    assert record["epochs"] == epochs and record["train_cpu_seconds"] > 0

    run_pair(args, "synth", 0)  # a finished run is kept, not trained again
    assert len(read(tmp_path / "results.jsonl")) == 1
    assert (work / "log").read_text().count("/zsk train ") == 1


def test_table_pairs_variants_per_set_and_counts_where_h_held(tmp_path):
    results = tmp_path / "results.jsonl"
    numbers = {  # (set, variant) -> [(ZSL, H) per seed]
        ("digits", "recogniser"): [(0.5, 0.25), (0.75, 0.5), (0.25, 0.25)],
        ("digits", CONSTANT): [(0.75, 0.5), (0.75, 0.25), (0.5, 0.5)],
        ("synth", "recogniser"): [(1.0, 0.75), (0.5, 0.75), (0.75, 1.0)],
        ("synth", CONSTANT): [(1.0, 0.5), (1.0, 0.5), (0.75, 0.75)],
        ("photo", "recogniser"): [(0.5, 0.5)],  # the other variant has not run: no mean
    }
    for (name, variant), runs in numbers.items():
        for seed, (zsl, h) in enumerate(runs):
            record = {"set": name, "variant": variant, "cpu_minutes": 1.0, "seed": seed,
                      "zsl_top1": zsl, "h": h}  # fmt: skip
            put(results, record, KEY)

    def cell(name, variant, index):
        values = [run[index] for run in numbers[(name, variant)]]
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    lines = table(results).splitlines()
    assert lines[0] == (
        f"| set | CPU min | recogniser: ZSL top-1 | recogniser: H | {CONSTANT}: ZSL top-1 | "
        f"{CONSTANT}: H |"
    )
    digits = [cell("digits", v, i) for v in ("recogniser", CONSTANT) for i in (0, 1)]
    assert lines[2] == "| digits | 1 | " + " | ".join(digits) + " |"
    assert lines[4] == "| photo | 1 | 0.500 (n=1) | 0.500 (n=1) | — | — |"
    mean = [(0.5 + 0.75) / 2, (1 / 3 + 5 / 6) / 2, (2 / 3 + 11 / 12) / 2, (5 / 12 + 7 / 12) / 2]
    assert lines[5] == "| mean of 2 sets | 1 | " + " | ".join(f"{m:.3f}" for m in mean) + " |"
    # the constant rate's mean H: digits 5/12 >= 1/3, synth 7/12 < 5/6
    assert lines[-1] == f"1 min, {CONSTANT}: H at least recogniser's on 1 of 2 sets"
