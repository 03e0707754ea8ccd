"""A finished grid evaluated again: zsk runs get the new evaluation, the rest is kept."""

from __future__ import annotations

import json

from benchmarks.studies.results import RESULTS, put, read
from benchmarks.studies.zoo import reevaluate
from benchmarks.studies.zoo.grid import KEY


def _staged_eval(val_h: float) -> dict:
    gzsl = {"h": 0.5, "calibration": {"val_h": val_h}}
    route = {"zsl_top1": 0.6, "gzsl": gzsl}
    headline = {"route": "r/embedding", "zsl_route": "r/embedding", "zsl_top1": 0.6, "h": 0.5}
    return {
        "stages": {"r": {"routes": {"embedding": route}}},
        "combined": {},
        "headline": headline | {"val_h": val_h},
    }


def test_zsk_runs_are_evaluated_again_and_the_rest_kept(tmp_path, monkeypatch):
    grid, into = tmp_path / "grid", tmp_path / "again.jsonl"
    base = {"set": "digits", "seed": 0, "train_cpu_seconds": 60.0}
    put(grid / RESULTS, base | {"method": "two-stage", "eval": "old", "ridge": "kept"}, KEY)
    put(grid / RESULTS, base | {"method": "baseline", "baseline": "kept"}, KEY)
    commands = []

    def evaluate(command: list[str], log) -> float:
        run_dir = tmp_path / command[command.index("eval") + 1]
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "eval.json").write_text(json.dumps(_staged_eval(0.7)))
        commands.append(command)
        return 12.5

    monkeypatch.setattr(reevaluate, "run_logged", evaluate)
    reevaluate.reevaluate(grid, into, ("--unseen-as-distractors",))
    two_stage, baseline = read(into)
    assert two_stage["eval"]["headline"]["val_h"] == 0.7
    assert two_stage["eval"]["routes"]["r/embedding"]["val_h"] == 0.7
    assert (two_stage["ridge"], two_stage["train_cpu_seconds"]) == ("kept", 60.0)
    assert two_stage["eval_cpu_seconds"] == 12.5
    assert baseline == base | {"method": "baseline", "baseline": "kept"}
    assert commands[0][-5:] == [
        "--device",
        "cpu",
        "--probe-steps",
        "400",
        "--unseen-as-distractors",
    ]
    assert commands[0][-6].endswith("runs/digits-s0/two-stage")
    reevaluate.reevaluate(grid, into)  # finished records are not evaluated again
    assert len(commands) == 1


def test_the_driver_passes_zsk_evals_flags_in_their_order(monkeypatch, tmp_path):
    given = []
    monkeypatch.setattr(reevaluate, "reevaluate", lambda grid, into, extra: given.append(extra))
    reevaluate.main([str(tmp_path), str(tmp_path / "into.jsonl"), "--no-carry-constant"])
    reevaluate.main([str(tmp_path), "x.jsonl", "--no-carry-constant", "--unseen-as-distractors"])
    reevaluate.main([str(tmp_path), "x.jsonl"])
    reevaluate.main([str(tmp_path), "x.jsonl", "--no-mirror-average", "--no-carry-constant"])
    assert given == [
        ("--no-carry-constant",),
        ("--unseen-as-distractors", "--no-carry-constant"),
        (),
        ("--no-carry-constant", "--no-mirror-average"),
    ]
