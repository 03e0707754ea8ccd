"""The validation-quality script reads a validation run, and only from validation data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.studies import validation_quality
from zsk.core.evaluate.trained import load_trained


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_shapes, run_zsk):
    """A tiny trained validation run (3 held-out classes) and a tiny trained ordinary run."""
    root = tmp_path_factory.mktemp("validation")
    data = root / "data"
    run_zsk(
        "data", "synth", data, "--images-per-class", "4", "--min-size", "16", "--max-size", "16"
    )
    spec = Path(__file__).parents[2] / "examples" / "shapes.yaml"
    common = [f"data.params.root={data}", *tiny_shapes, "train.checkpoint_every=2"]
    sets = [part for item in common for part in ("--set", item)]
    run_zsk("build", spec, *sets, "--set", "holdout.classes=3", "--out", root / "val")
    run_zsk("train", root / "val", "--steps", "2", "--device", "cpu")
    run_zsk("build", spec, *sets, "--out", root / "plain")
    run_zsk("train", root / "plain", "--steps", "2", "--device", "cpu")
    return root / "val", root / "plain"


def test_prints_one_row_of_fractions_per_validation_run(runs, capsys):
    validation, _ = runs
    args = [str(validation), "--per-class", "2", "--probe-steps", "3"]
    assert validation_quality.main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(f"| {validation} |")]
    assert len(rows) == 1
    values = [float(v) for v in re.findall(r"\| ([0-9.]+) ", rows[0] + " ")]
    assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values)


def test_the_background_column_is_a_share_of_two_predicates_per_image(runs):
    validation, _ = runs
    quality = validation_quality.measure(validation, per_class=2, probe_steps=3)
    # 3 held-out classes × 2 images × 2 background predicates: a multiple of 1/12
    assert quality.imagined_background * 12 == pytest.approx(
        round(quality.imagined_background * 12)
    )


def test_the_recognition_numbers_alone_are_those_of_the_full_measure(runs):
    validation, _ = runs
    quality = validation_quality.measure(validation, per_class=2, probe_steps=3)
    held_out_zsl, validation_h = validation_quality.recognition(load_trained(validation))
    assert (held_out_zsl, validation_h) == (quality.held_out_zsl, quality.validation_h)


def test_a_run_without_holdout_is_refused(runs, capsys):
    _, plain = runs
    assert validation_quality.main([str(plain), "--probe-steps", "1"]) == 2
    assert "is not a validation run" in capsys.readouterr().err


def test_table_formats_a_missing_background_as_a_dash():
    rows = [("r", validation_quality.ValidationQuality(0.5, None, 0.25, 0.125))]
    assert validation_quality.table(rows).splitlines()[-1] == "| r | 0.500 | — | 0.250 | 0.125 |"
