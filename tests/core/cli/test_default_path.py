"""The recogniser's path: zsk init --route no-gan → build → train → eval (the default
two-stage path, whose first stage this is, is driven in test_stages_cli.py).

GZSL is calibrated on the spec's own validation run, and no test image influences any choice:
replacing every test image changes no spec value, no weight and no calibration constant.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from safetensors.torch import load_file

from zsk.core.build.composer import load_data
from zsk.core.spec.loading import load_spec
from zsk.core.train.checkpoint import find_latest


def _pipeline(run_zsk, data: Path, work: Path, tiny: tuple[str, ...]) -> dict:
    """init → build → train → eval in ``work``; what each step chose or wrote."""
    spec = work / "spec.yaml"
    run_zsk("init", data, "--route", "no-gan", "--out", spec, "--cpu-minutes", "0.1")
    overrides = [part for item in tiny for part in ("--set", item)]
    run_zsk("build", spec, *overrides, "--out", work / "run")
    run_zsk("train", work / "run")
    run_zsk("eval", work / "run", "--probe-steps", "5", "--images-per-class", "2")
    run, validation = work / "run", work / "run" / "validation"
    result = json.loads((run / "eval.json").read_text())
    routes = result["routes"]
    body = spec.read_text().split("\n", 3)[3]  # past the header, which names the data folder
    return {
        "spec": body,
        "weights": [
            # the tensors, not the bytes: init.safetensors names its lock file's digest, and
            # the lock names the spec file's path, which differs between the two pipelines
            {key: value.tolist() for key, value in load_file(folder / name).items()}
            for folder in (run, validation)
            for name in ("init.safetensors", find_latest(folder).relative_to(folder))
        ],
        "gamma": routes["embedding"]["gzsl"]["calibration"]["gamma"],
        "source": routes["embedding"]["gzsl"]["calibration"]["source"],
        "test_scores": (
            routes["embedding"]["zsl_top1"],
            routes["embedding"]["gzsl"]["u"],
            routes["embedding"]["gzsl"]["s"],
        ),
    }


def _replace_test_images(spec: Path) -> int:
    """Overwrite every test image (seen and unseen) with noise of another size; how many."""
    data = load_data(load_spec(spec))
    rng = np.random.default_rng(1)
    samples = data.test_seen + data.test_unseen
    for sample in samples:
        noise = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
        Image.fromarray(noise).save(sample.path, format="JPEG")
    return len(samples)


@pytest.mark.slow
def test_recogniser_path_calibrates_on_its_validation_run_and_ignores_test_images(
    tmp_path, monkeypatch, tiny_shapes, tiny_synth, run_zsk
):
    monkeypatch.chdir(tmp_path)
    # zsk init times a step on the machine it runs on; a fixed time here, so that the two
    # specs could differ only by what the data changed
    monkeypatch.setattr("zsk.core.recommend.init_spec.step_seconds", lambda spec: 0.01)
    data = tmp_path / "data"
    run_zsk("data", "synth", data, *tiny_synth)
    # the recogniser has no reconstruction head to shrink
    skipped = ("validation_run", "model.heads.reconstruction_feature")
    tiny = tuple(item for item in tiny_shapes if not item.startswith(skipped))
    first = _pipeline(run_zsk, data, tmp_path / "first", tiny)

    spec = yaml.safe_load((tmp_path / "first" / "spec.yaml").read_text())
    assert spec["validation_run"] == {"seed": 0}
    assert spec["objective"]["generator"] == [], "the recommended spec is the recogniser"
    assert f"validation run {tmp_path / 'first' / 'run' / 'validation'}" in first["source"]

    assert _replace_test_images(tmp_path / "first" / "spec.yaml") > 8 * 4  # seen ones too
    second = _pipeline(run_zsk, data, tmp_path / "second", tiny)
    assert second["test_scores"] != first["test_scores"]  # the test images did change
    assert second["spec"] == first["spec"]
    assert second["weights"] == first["weights"]
    assert second["gamma"] == first["gamma"]
