"""The main job end to end, as a user drives it: synth, build, train, eval, generate, translate,
report — through click's test runner, at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from zsk.core.cli.main import cli

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes.yaml"
#: beside the tiny sizes (tests/conftest.py): log, sample and checkpoint within 3 steps
EVERY_STEP = ["train.log_every=1", "train.sample_every=3", "train.checkpoint_every=3"]


def _fraction(value) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


@pytest.mark.slow
def test_synth_build_train_eval_generate_translate_report(
    tmp_path, monkeypatch, tiny_shapes, tiny_synth, run_zsk
):
    monkeypatch.chdir(tmp_path)
    run_dir = _synth_build_and_train(run_zsk, tmp_path, tiny_shapes, tiny_synth)
    _evaluate(run_zsk, run_dir)
    _generate_and_translate(run_zsk, tmp_path, run_dir)
    run_zsk("report", "--device", "cpu")
    report = (run_dir / "report.md").read_text()
    assert "![loss terms](report/losses.png)" in report
    assert "| embedding | ZSL top-1 (per class) |" in report
    for picture in ("losses.png", "samples-seen.png", "samples-unseen.png"):
        assert (run_dir / "report" / picture).stat().st_size > 0


def _synth_build_and_train(run_zsk, tmp_path: Path, tiny_shapes, tiny_synth) -> Path:
    """The shapes data set, a validation run holding 3 seen classes out and the run, each
    trained 3 steps; the run's folder."""
    spec = tmp_path / "shapes.yaml"
    spec.write_text(EXAMPLE.read_text())
    run_zsk("data", "synth", "data/shapes", *tiny_synth)
    overrides = [part for item in (*tiny_shapes, *EVERY_STEP) for part in ("--set", item)]
    # the validation run that chooses the GZSL calibration: 3 of the seen classes held out
    built = run_zsk(
        "build", spec, *overrides, "--set", "holdout.classes=3", "--out", "runs/tiny-val"
    )
    assert "(37 seen)" in built.output  # 40 seen classes, 3 held out
    assert "a validation run: 3 seen classes and 37 images of the others held out" in " ".join(
        built.output.split()
    )
    run_zsk("train", "runs/tiny-val", "--steps", "3", "--device", "cpu")
    run_zsk("build", spec, *overrides, "--out", "runs/tiny")
    run_zsk("train", "--steps", "3", "--device", "cpu")  # the last build, as a user would
    return tmp_path / "runs" / "tiny"


def _evaluate(run_zsk, run_dir: Path) -> None:
    """eval.json as printed, every route's numbers in [0, 1], the constants chosen on the
    validation run; the validation run on its own; a run that is not a validation run refused."""
    result = run_zsk(
        "eval", "--json", "--calibrate-with", "runs/tiny-val", "--images-per-class", "4",
        "--probe-steps", "5", "--device", "cpu",
    )  # fmt: skip
    printed = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    assert printed == json.loads((run_dir / "eval.json").read_text())
    assert printed["step"] == 3
    embedding, generative = printed["routes"]["embedding"], printed["routes"]["generative"]
    for value in (
        embedding["zsl_top1"],
        embedding["gzsl"]["u"],
        embedding["gzsl"]["s"],
        embedding["gzsl"]["h"],
        embedding["gzsl"]["ausuc"],
        generative["zsl_top1"],
        generative["gzsl"]["u"],
        generative["gzsl"]["s"],
        generative["gzsl"]["h"],
        printed["imagined"]["attribute_accuracy"],
    ):
        assert _fraction(value)
    assert isinstance(embedding["gzsl"]["calibration"]["gamma"], float)
    assert "runs/tiny-val (3 held-out classes)" in embedding["gzsl"]["calibration"]["source"]
    # the generative route chooses its constant on the same validation run
    generative_source = generative["gzsl"]["calibration"]["source"]
    assert generative_source == embedding["gzsl"]["calibration"]["source"]
    assert printed["metrics"] == {}
    # the constants came from a validation run: no pseudo-unseen classes are named
    assert printed["calibration"]["source"] == generative_source
    assert "pseudo_unseen_classes" not in printed["calibration"]
    _carry_constant(run_zsk, printed["routes"])
    _mirror_average(run_zsk, printed["routes"])

    # a validation run evaluated on its own calibrates on its own held-out images; asked to,
    # with the data set's unseen classes competing there
    unseen = len((Path("data/shapes/testclasses.txt")).read_text().split())
    own = run_zsk(
        "eval", "runs/tiny-val", "--json", "--images-per-class", "2", "--probe-steps", "2",
        "--unseen-as-distractors",
        says=["the constants are chosen on this run itself: applied as chosen, none to carry"],
    )  # fmt: skip
    calibration = json.loads(own.stdout)["routes"]["embedding"]["gzsl"]["calibration"]
    assert (
        f"runs/tiny-val (3 held-out classes, {unseen} unseen classes as distractors)"
        in calibration["source"]
    )
    assert calibration.get("chosen_gamma") is None
    refused = CliRunner().invoke(cli, ["eval", str(run_dir), "--calibrate-with", str(run_dir)])
    assert refused.exit_code == 2
    assert "is not a validation run: its spec has no holdout section" in refused.output


def _carry_constant(run_zsk, carried: dict) -> None:
    """Every route's constant was carried into the run's scale (``carried``, the routes of
    eval.json); asked not to, zsk applies each as the validation run chose it."""
    asked = run_zsk(
        "eval", "--json", "--calibrate-with", "runs/tiny-val", "--no-carry-constant",
        "--images-per-class", "4", "--probe-steps", "5", "--device", "cpu",
    )  # fmt: skip
    routes = json.loads(asked.stdout)["routes"]
    assert set(routes) == set(carried) and {"embedding", "generative", "combined"} <= set(routes)
    for name, route in routes.items():
        chosen = route["gzsl"]["calibration"]
        moved = carried[name]["gzsl"]["calibration"]
        assert chosen.get("chosen_gamma") is None
        assert moved["chosen_gamma"] == chosen["gamma"], name
        assert moved["val_h"] == chosen["val_h"] and isinstance(moved["gamma"], float)


def _mirror_average(run_zsk, averaged: dict) -> None:
    """The run trained on mirrored images, so its embedding route averaged each image's
    embedding with its mirror image's (``averaged``, eval.json's routes); asked not to, zsk
    scores each image as it is, and the other routes are not the embedding's business."""
    assert averaged["embedding"]["mirror_averaged"] is True
    assert "mirror_averaged" not in averaged["generative"]
    asked = run_zsk(
        "eval", "--json", "--calibrate-with", "runs/tiny-val", "--no-mirror-average",
        "--images-per-class", "4", "--probe-steps", "5", "--device", "cpu",
    )  # fmt: skip
    assert json.loads(asked.stdout)["routes"]["embedding"]["mirror_averaged"] is False


def _generate_and_translate(run_zsk, tmp_path: Path, run_dir: Path) -> None:
    """Grids of named classes and of edited attributes, and a translation to an unseen class."""
    classes = (tmp_path / "data/shapes/classes.txt").read_text().split()[1::2]
    unseen = (tmp_path / "data/shapes/testclasses.txt").read_text().split()
    predicates = (tmp_path / "data/shapes/predicates.txt").read_text().split()[1::2]
    grid = tmp_path / "grid.png"
    run_zsk("generate", "--class", unseen[0], "--class", classes[0], "--n", "3", "--out", grid)
    with Image.open(grid) as image:
        assert image.height == 2 + 2 * 18  # two rows of 16-pixel images with 2-pixel gaps
    run_zsk(
        "generate", run_dir, "--attributes", f"{predicates[0]}=1", "--n", "2", "--out", "edit.png"
    )
    assert (tmp_path / "edit.png").is_file()

    source = next((tmp_path / "data/shapes/JPEGImages").rglob("*.jpg"))
    out = tmp_path / "translation.png"
    result = run_zsk("translate", source, "--to", unseen[0], "--out", out)
    assert "source | reconstruction | translation" in result.output
    with Image.open(out) as image:
        assert image.size[1] == 2 + 18 and image.size[0] == 2 + 3 * 18
