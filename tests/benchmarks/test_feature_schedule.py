"""The time-to-a-result driver end to end at tiny sizes: curve, test at one of its steps, ridge."""

from __future__ import annotations

import json
import statistics

import pytest

from benchmarks.studies import feature_schedule, features_route
from benchmarks.studies.results import find, read
from zsk.core.evaluate.trained import load_trained
from zsk.registry.manager import unregister_plugin

TINY = {
    "data.params.feature_dim": 16,
    "data.params.classes": 12,
    "data.params.unseen": 3,
    "data.params.validation": 3,
    "data.params.attributes": 6,
    "data.params.per_class": 12,
    "model.noise_dim": 6,
    "model.generator.params.hidden": "[16]",
    "model.heads.real_fake.params.hidden": "[16]",
    "train.batch_size": 8,
}


@pytest.fixture
def sets(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]
    unregister_plugin(feature_schedule.PLUGIN)


@pytest.mark.slow
def test_curve_then_test_at_one_of_its_steps(tmp_path, sets, capsys):
    feature_schedule.main([str(tmp_path), "curve", "--steps", "2,4", *sets])
    folder, results = tmp_path / "published", tmp_path / "results.jsonl"
    curve = find(read(results), kind="curve", name="published")
    points = curve["points"]
    assert [p["step"] for p in points] == [2, 4]
    assert 0 < points[0]["train_cpu_seconds"] < points[1]["train_cpu_seconds"]
    for point in points:
        assert 0 <= point["zsl_top1"] <= 1 and 0 <= point["val_h"] <= 1
        u, s = point["val_u"], point["val_s"]
        assert point["val_h"] == pytest.approx(2 * u * s / (u + s) if u + s else 0.0)
    feature_schedule.main([str(tmp_path), "curve", "--extend", "--steps", "4,6", *sets])
    extended = find(read(results), kind="curve", name="published")["points"]
    assert [p["step"] for p in extended] == [2, 4, 6] and extended[:2] == points

    feature_schedule.main([str(tmp_path), "test", "--at", "2", "--seeds", "0,1", *sets])
    # the validation run as it was at step 2 chose the constant, though it trained on to 6
    assert load_trained(folder / "validation-at-2").step == 2
    test = find(read(results), kind="test", name="published", steps=2)
    zsl = [run["zsl_top1"] for run in test["runs"]]
    assert [run["seed"] for run in test["runs"]] == [0, 1]
    assert test["zsl_top1"]["mean"] == pytest.approx(statistics.mean(zsl))
    assert test["zsl_top1"]["sd"] == pytest.approx(statistics.stdev(zsl))
    for run in test["runs"]:
        assert "validation-at-2" in run["calibration"]["source"]
        evaluation = json.loads((folder / f"test-2-seed{run['seed']}" / "eval.json").read_text())
        assert evaluation["step"] == 2
        assert evaluation["routes"]["generative"]["zsl_top1"] == run["zsl_top1"]

    feature_schedule.main([str(tmp_path), "ridge", *sets])
    ridge = find(read(results), kind="ridge", name="published")
    assert ridge["lambda"] in features_route.LAMBDAS and 0 <= ridge["zsl_top1"] <= 1

    capsys.readouterr()
    feature_schedule.main([str(results), "--table"])
    table = capsys.readouterr().out
    assert "| published | 6 |" in table and "| published | 2 | 2 |" in table
    assert f"| published | ridge | {ridge['zsl_top1']:.3f} |" in table
