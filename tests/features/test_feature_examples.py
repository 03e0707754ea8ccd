"""The f-CLSWGAN examples build, train (with their validation run) and evaluate on tiny benchmark
files written in the exact xlsa17 format, at the published settings but for the sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.core.spec.loading import load_spec
from zsk.testing.xlsa17 import write_xlsa17

EXAMPLES = Path(__file__).parents[2] / "examples"
#: the published sizes shrunk to tiny files; every other setting stays as the example has it
TINY = ["model.generator.params.hidden=[16]", "model.heads.real_fake.params.hidden=[16]"]
TINY += ["train.batch_size=4", "train.epochs=null", "train.steps=2"]


def ok(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize(
    ("example", "lr", "epochs", "noise"),
    [("fclswgan-awa2-xlsa17.yaml", 1e-5, 150, 85), ("fclswgan-cub-xlsa17.yaml", 1e-4, 280, 312)],
)
def test_the_published_settings_are_in_the_example(example, lr, epochs, noise):
    spec = load_spec(EXAMPLES / example)
    assert spec.data.type == "xlsa17"
    assert spec.model.noise_dim == noise and spec.train.epochs == epochs
    assert spec.train.optimizers.generator.lr == lr == spec.train.optimizers.discriminator.lr
    assert spec.train.batch_size == 64 and spec.train.n_critic == 5
    assert spec.model.generator.params.hidden == [4096]
    assert spec.model.heads["real_fake"].params.hidden == [4096]
    assert spec.objective.discriminator[0].params.lambda_gp == 10.0
    (regulariser,) = [t for t in spec.objective.generator if t.type == "pretrained_classifier"]
    assert regulariser.weight == 0.01
    assert spec.validation_run is not None


@pytest.mark.slow
@pytest.mark.parametrize("example", ["fclswgan-awa2-xlsa17.yaml", "fclswgan-cub-xlsa17.yaml"])
def test_an_example_runs_on_benchmark_files(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    files = write_xlsa17(tmp_path / "xlsa17", classes=8, unseen=2, validation=2, per_class=8)
    sets = [part for item in [f"data.params.root={files.root}", *TINY] for part in ("--set", item)]
    ok("build", EXAMPLES / example, *sets, "--out", "runs/f")
    ok("train", "runs/f", "--device", "cpu")
    fast = ["--images-per-class", "4", "--classifier-epochs", "2", "--probe-steps", "5"]
    ok("eval", "runs/f", *fast, "--device", "cpu")
    evaluation = json.loads((tmp_path / "runs" / "f" / "eval.json").read_text())
    generative = evaluation["routes"]["generative"]
    assert 0.0 <= generative["zsl_top1"] <= 1.0
    source = generative["gzsl"]["calibration"]["source"]
    assert source.startswith("validation run") and "(2 held-out classes)" in source
