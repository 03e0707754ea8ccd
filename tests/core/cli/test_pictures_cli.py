"""`zsk generate`, `zsk translate`, `zsk eval` and `zsk report` on a user's mistakes: exit 2 and a
message that says what is wrong and what to do, never a traceback."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from zsk.core.components.interfaces import Metric
from zsk.core.storage import files

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes.yaml"
#: translate's target: a class of the synthetic shapes
TO_CIRCLE = ("--to", "blue_solid_circle_on_dark")


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_shapes, tiny_synth, run_zsk):
    """A tiny data set, a trained translating run and an untrained noise-drawing one."""
    root = tmp_path_factory.mktemp("pictures")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        spec = root / "shapes.yaml"
        spec.write_text(EXAMPLE.read_text())
        run_zsk("data", "synth", "data/shapes", *tiny_synth)
        sets = [part for item in tiny_shapes for part in ("--set", item)]
        run_zsk("build", spec, *sets, "--out", root / "translator")
        run_zsk("train", root / "translator", "--steps", "1", "--device", "cpu")
        # the whole generator entry: shapes.yaml's translator params are not noise_decoder's
        noise = "{type: noise_decoder, params: {base_channels: 8, max_channels: 16}}"
        run_zsk("build", spec, *sets, "--set", f"model.generator={noise}", "--out", root / "noise")
    image = root / "photo.png"
    Image.new("RGB", (30, 20), (200, 30, 30)).save(image)
    return root


@pytest.fixture(autouse=True)
def _in_world(world, monkeypatch):
    """The spec names its data relative to the working directory, as a user's would."""
    monkeypatch.chdir(world)


def test_a_run_without_checkpoints_is_refused(run_zsk, world):
    for command in (["eval"], ["report"], ["generate", "--class", "x"]):
        run_zsk(
            *command,
            world / "noise",
            code=2,
            says=["has no checkpoint yet", f"zsk train {world / 'noise'}"],
        )


def test_unknown_class_names_get_a_did_you_mean(run_zsk, world):
    run = world / "translator"
    run_zsk(
        "generate",
        run,
        "--class",
        "blue_solid_circle_on_drak",
        code=2,
        says=[
            "unknown class 'blue_solid_circle_on_drak'",
            "Did you mean 'blue_solid_circle_on_dark'",
        ],
    )
    run_zsk(
        "translate",
        run,
        world / "photo.png",
        "--to",
        "blue solid circle",
        code=2,
        says=["--to", "unknown class 'blue solid circle'. Did you mean"],
    )


def test_unknown_predicates_are_refused(run_zsk, world):
    run_zsk(
        "generate",
        world / "translator",
        "--attributes",
        "circle=1,stripy=1",
        code=2,
        says=["--attributes", "unknown predicate 'stripy'", "Did you mean 'striped'"],
    )


def test_an_unreadable_image_is_refused(run_zsk, world):
    broken = world / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 cut short")
    run_zsk(
        "translate",
        world / "translator",
        broken,
        *TO_CIRCLE,
        code=2,
        says=["cannot read", "broken.jpg as an image"],
    )


def test_a_noise_drawing_generator_cannot_translate(run_zsk, world):
    says = ["generator 'noise_decoder'", "cannot translate an image", "zsk generate"]
    run_zsk("translate", world / "noise", world / "photo.png", *TO_CIRCLE, code=2, says=says)


def test_class_names_may_be_written_with_spaces(run_zsk, world, tmp_path):
    out = tmp_path / "circle.png"
    result = run_zsk(
        "generate", world / "translator", "--class", "Blue Solid Circle On Dark", "--out", out
    )
    assert "rows: blue_solid_circle_on_dark" in result.output
    assert out.stat().st_size > 0


def test_translation_without_a_target_is_refused(run_zsk, world):
    run_zsk("translate", world / "translator", world / "photo.png", code=2, says=["--to CLASS"])


def test_bad_inception_weights_are_refused_before_evaluating(run_zsk, world):
    junk = world / "junk.safetensors"
    junk.write_bytes(b"junk")
    run_zsk(
        "eval",
        world / "translator",
        "--metric",
        f"{{type: fid, params: {{weights: {junk}}}}}",
        code=2,
        says=[str(junk), "cannot read Inception weights"],
    )
    run_zsk("eval", world / "translator", "--metric", "fdi", code=2, says=["Did you mean 'fid'?"])


class _ImagedClasses(Metric):
    """How many unseen classes the imagined images cover (a plugin's metric)."""

    name = "imagined_classes_test"

    def compute(self, inputs):
        covered = set(inputs.imagined.labels.tolist())
        return {"classes": len(covered), "all_unseen": covered == set(inputs.data.unseen)}


def test_a_plugin_metric_is_computed_printed_and_written_to_eval_json(
    run_zsk, world, monkeypatch, add_components
):
    add_components(_ImagedClasses, name="m")
    run = world / "translator"
    fast = ["--images-per-class", "2", "--probe-steps", "2"]
    monkeypatch.setenv("COLUMNS", "200")  # the table on one line per row
    result = run_zsk("eval", run, "--metric", "imagined_classes_test", *fast)
    assert re.search(r"metric imagined_classes_test\W+classes\W+8\b", result.output)
    written = json.loads((run / "eval.json").read_text())["metrics"]
    assert written == {"imagined_classes_test": {"values": {"classes": 8, "all_unseen": True}}}


class _Broken(Metric):
    """A plugin's metric that fails while computing."""

    name = "broken_test"

    def compute(self, inputs):
        raise RuntimeError("no cheese")


FAST = ["--images-per-class", "2", "--probe-steps", "2"]


def test_a_failing_metric_is_recorded_and_every_other_number_written(
    run_zsk, world, monkeypatch, add_components
):
    add_components(_ImagedClasses, _Broken, name="m")
    run = world / "translator"
    monkeypatch.setenv("COLUMNS", "200")
    args = ["eval", run, "--metric", "broken_test", "--metric", "imagined_classes_test", *FAST]
    result = run_zsk(*args, says=["warning: metric broken_test failed (RuntimeError: no cheese)"])
    assert re.search(r"metric broken_test\W+FAILED\W+RuntimeError: no cheese", result.output)
    written = json.loads((run / "eval.json").read_text())
    assert written["metrics"]["broken_test"] == {"failed": "RuntimeError: no cheese"}
    assert written["metrics"]["imagined_classes_test"]["values"]["classes"] == 8
    assert 0.0 <= written["routes"]["generative"]["zsl_top1"] <= 1.0


def test_eval_into_a_full_folder_prints_the_table_then_exits_2(run_zsk, world, monkeypatch):
    run = world / "translator"
    (run / "eval.json").write_text("{}")  # an old result, removed before the long part

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    says = ["ZSL top-1", "no space left", "eval.json"]
    result = run_zsk("eval", run, *FAST, code=2, says=says)
    assert result.output.index("ZSL top-1") < result.output.index("no space left")
    assert not (run / "eval.json").exists()  # no stale result left looking current
    assert not list(run.glob(".*tmp*"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[]", "holds a JSON list"),
        ('{"schema_version": 3, "step": 1}', "is damaged"),
        ('{"gzsl": null, "step": 1}', "schema version 1"),
    ],
)
def test_report_refuses_a_damaged_eval_json_naming_it_and_the_fix(run_zsk, world, content, says):
    run = world / "translator"
    (run / "eval.json").write_text(content)
    run_zsk("report", run, code=2, says=[str(run / "eval.json"), says, "zsk eval"])
