"""A feature run end to end through the CLI: build (with its validation run), train, eval,
report; the picture commands and picture metrics refuse it with exit 2."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from tests.features.feature_data import feature_spec
from zsk.core.cli.main import cli

#: The top-level keys of an image run's eval.json (tests/core/cli/test_end_to_end.py), which a
#: feature run's must also have.
IMAGE_RUN_KEYS = {
    "schema_version",
    "run",
    "checkpoint",
    "step",
    "routes",
    "unavailable",
    "imagined",
    "metrics",
    "calibration",
    "images",
    "seed",
}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(*args, says: str):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert says in " ".join(result.output.split()), result.output


@pytest.mark.slow
def test_build_train_eval_report_a_feature_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = feature_spec(steps=6)
    spec["validation_run"] = {"classes": 2}
    (tmp_path / "features.yaml").write_text(yaml.safe_dump(spec))
    ok("build", "features.yaml", "--out", "runs/f")
    assert (tmp_path / "runs" / "f" / "validation" / "spec.lock.yaml").is_file()
    trained = ok("train", "runs/f", "--device", "cpu")
    assert "samples:" not in trained.output  # no picture grids of a feature run
    choices = ["--images-per-class", "5", "--images-per-class", "20", "--classifier-epochs", "3"]
    result = ok("eval", "runs/f", *choices, "--probe-steps", "20", "--device", "cpu", "--json")
    evaluation = json.loads(result.output[result.output.index("{") :])
    assert set(evaluation) >= IMAGE_RUN_KEYS
    assert list(evaluation["routes"]) == ["generative", "published_protocol"]
    assert "calibration" not in evaluation["routes"]["published_protocol"]["gzsl"]
    assert "embedding" in evaluation["unavailable"]["embedding"]
    generative = evaluation["routes"]["generative"]
    assert 0.0 <= generative["zsl_top1"] <= 1.0 and 0.0 <= generative["gzsl"]["h"] <= 1.0
    assert generative["gzsl"]["calibration"]["source"].startswith("validation run")
    tried = generative["chosen_on_validation"]
    assert [(c["images_per_class"], c["epochs"]) for c in tried] == [(5, 3), (20, 3)]
    best = max(tried, key=lambda c: c["val_h"])
    assert generative["images_per_class"] == best["images_per_class"]
    assert generative["gzsl"]["calibration"]["val_h"] == best["val_h"]
    assert evaluation["images"] == {"train": 35, "test_seen": 15, "test_unseen": 30}

    ok("report", "runs/f", "--device", "cpu")
    report = (tmp_path / "runs" / "f" / "report.md").read_text()
    assert "learns feature vectors, not images" in report and "| generative |" in report
    assert "12-d feature vectors" in report

    refused("generate", "runs/f", "--device", "cpu", says="zsk generate` draws pictures")
    (tmp_path / "photo.png").write_bytes(b"")
    refused("translate", "runs/f", "photo.png", "--to", "class0", says="zsk translate` draws")
    refused(
        "eval", "runs/f", "--metric", "fid", says="metric plugins (FID, KID, ...) judge imagined"
    )
