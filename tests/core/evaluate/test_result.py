"""eval.json as a typed, versioned model: written and read back unchanged; a damaged file or one
of another schema version refused with the file and the fix; a failing metric plugin recorded."""

from __future__ import annotations

import json

import pytest
import torch

from zsk.core.components.interfaces import Metric
from zsk.core.evaluate.metric_plugins import compute_metrics
from zsk.core.evaluate.result import (
    EVAL_FILE,
    SCHEMA_VERSION,
    EvalResult,
    discard_eval,
    read_eval,
    write_eval,
)
from zsk.registry import UserError

GZSL = {
    "u": 0.5,
    "s": 0.25,
    "h": 1 / 3,
    "ausuc": 0.3,
    "calibration": {"gamma": 0.1, "val_u": 0.4, "val_s": 0.6, "val_h": 0.48, "source": "v"},
    "uncalibrated": {"u": 0.1, "s": 0.9, "h": 0.18},
}
RESULT = {
    "schema_version": SCHEMA_VERSION,
    "run": "runs/x",
    "checkpoint": "step-3.safetensors",
    "step": 3,
    "seed": 0,
    "routes": {"embedding": {"zsl_top1": 0.75, "gzsl": GZSL}},
    "unavailable": {"generative": "no generator"},
    "metrics": {"m": {"values": {"n": 3, "ok": True, "note": "x", "none": None}}},
    "calibration": {
        "source": "pseudo-unseen",
        "seen_images": 4,
        "unseen_images": 6,
        "pseudo_unseen_classes": [1, 2],
    },
    "images": {"train": 10, "test_seen": 4, "test_unseen": 6},
}


def test_a_result_round_trips_through_eval_json(tmp_path):
    result = EvalResult.model_validate(RESULT)
    path = write_eval(tmp_path, result)
    assert path == tmp_path / EVAL_FILE
    assert json.loads(path.read_text()) == RESULT  # absent optional parts are left out
    back = read_eval(tmp_path)
    assert back == result
    assert back.metrics["m"].values["ok"] is True
    assert read_eval(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda r: "[1, 2]", "holds a JSON list"),
        (lambda r: "{not json", "is not JSON"),
        (lambda r: json.dumps({k: v for k, v in r.items() if k != "routes"}), "routes"),
        (lambda r: json.dumps(r | {"step": "three"}), "step"),
        (lambda r: json.dumps(r | {"schema_version": 7}), "schema version 7"),
        (lambda r: json.dumps({k: v for k, v in r.items() if k != "schema_version"}), "version 1"),
        (lambda r: json.dumps(r | {"extra": 1}), "extra"),
    ],
)
def test_a_damaged_eval_json_is_refused_naming_the_file_and_the_fix(tmp_path, damage, says):
    (tmp_path / EVAL_FILE).write_text(damage(RESULT))
    with pytest.raises(UserError) as raised:
        read_eval(tmp_path)
    message = str(raised.value) + " " + (raised.value.hint or "")
    assert str(tmp_path / EVAL_FILE) in message
    assert says in message
    assert f"zsk eval {tmp_path}" in message


def test_discarding_removes_an_old_result_and_tolerates_none(tmp_path):
    write_eval(tmp_path, EvalResult.model_validate(RESULT))
    discard_eval(tmp_path)
    assert not (tmp_path / EVAL_FILE).exists()
    discard_eval(tmp_path)


class _Fine(Metric):
    name = "fine_test"

    def compute(self, inputs):
        return {"value": 1.5}


class _Raises(Metric):
    name = "raises_test"

    def compute(self, inputs):
        raise RuntimeError("out of cheese")


class _NaN(Metric):
    name = "nan_test"

    def compute(self, inputs):
        return {"value": float("nan")}


class _Tensor(Metric):
    name = "tensor_test"

    def compute(self, inputs):
        return {"value": torch.tensor(1.0)}


def test_a_failing_metric_is_recorded_with_its_reason_and_the_others_are_kept():
    metrics = {cls.name: cls({}) for cls in (_Raises, _Fine, _NaN, _Tensor)}
    outcomes = compute_metrics(metrics, inputs=None)
    assert outcomes["fine_test"].values == {"value": 1.5} and outcomes["fine_test"].failed is None
    assert outcomes["raises_test"].failed == "RuntimeError: out of cheese"
    assert "is nan" in outcomes["nan_test"].failed
    assert "is a Tensor" in outcomes["tensor_test"].failed
    result = EvalResult.model_validate(RESULT).model_copy(update={"metrics": outcomes})
    assert set(result.failed_metrics()) == {"raises_test", "nan_test", "tensor_test"}
