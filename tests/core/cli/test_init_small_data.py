"""``zsk init`` on very small data sets: the spec it writes builds and trains, or it refuses
with a fix it can offer itself (issue 26, item 19), through the ``zsk`` command.

Each data set is image folders of 8-px PNGs; a share of 0.2 of each seen class's images (at
least one image kept for training) is the seen test set, as ``image_folder`` holds out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.core.cli.faults import own_data, refused, zsk
from zsk.core.build.composer import load_data
from zsk.core.spec.loading import load_spec
from zsk.core.train.checkpoint import find_latest

#: classes, of which unseen, images per class: the data sets of the issue
CASES = {"6x1": (6, 2, 1), "3x4": (3, 1, 4), "6x20": (6, 2, 20)}
#: each route's batch where the data fill it (recipes), and what keeps its training short
ROUTES = {
    "no-gan": (64, []),  # init's own sizing: one epoch at the smallest budget
    "two-stage": (64, ["--set", "stages.features.train.steps=2"]),
    "image-gan": (32, ["--set", "train.epochs=1"]),
}


def _data(root: Path, case: str) -> tuple[Path, int]:
    """The case's data set at ``root``; its number of training images (seen classes' images
    less the seen test share: ``min(round(0.2 n), n - 1)`` of each class's ``n``)."""
    count, unseen, per_class = CASES[case]
    classes = [f"c{i}" for i in range(count)]
    values = {name: f"{i / count:.3f}" for i, name in enumerate(classes)}
    own_data(root, classes, classes[: count - unseen], values, images_per_class=per_class)
    kept = per_class - min(round(0.2 * per_class), per_class - 1)
    return root, (count - unseen) * kept


def _stage(spec: dict) -> dict:
    """The recogniser's section of an init spec (a two-stage spec's first stage)."""
    return spec["stages"]["recogniser"] if "stages" in spec else spec


def _runs(run: Path, route: str) -> list[Path]:
    """Every run ``zsk build`` wrote in ``run``: each stage and its validation run."""
    tops = [run / "recogniser", run / "features"] if route == "two-stage" else [run]
    return [folder for top in tops for folder in (top / "validation", top)]


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("case", list(CASES))
def test_init_on_small_data_writes_a_spec_that_builds_and_trains(
    tmp_path, case, route, consistent_run
):
    data, training_images = _data(tmp_path / "data", case)
    spec_file, run = tmp_path / "spec.yaml", tmp_path / "run"
    made = zsk("init", data, "--out", spec_file, "--cpu-minutes", "0.05", "--route", route)
    assert made.exit_code == 0, made.output
    assert "train.batch_size" not in made.output
    spec, header = yaml.safe_load(spec_file.read_text()), spec_file.read_text().split("name:")[0]
    batch, (widest, tiny) = _stage(spec)["train"]["batch_size"], ROUTES[route]

    if case == "6x1":  # one image per class: no image of a trained class to hold out
        assert "validation_run" not in spec
        assert "no validation run" in header and "each has only one" in header
    else:
        assert spec["validation_run"] == {"seed": 0}
    built = zsk("build", spec_file, "--out", run, *tiny)
    assert built.exit_code == 0, built.output
    trained_on = [training_images]
    if "validation_run" in spec:
        first = run / "recogniser" if route == "two-stage" else run
        trained_on.append(len(load_data(load_spec(first / "validation" / "spec.lock.yaml")).train))
    assert batch == min(widest, *trained_on)  # the largest batch every run fills
    assert (batch < widest or case == "6x1") == ("Sized to small data" in header)
    if route == "two-stage":
        assert spec["stages"]["features"]["train"]["batch_size"] == batch

    trained = zsk("train", run, "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    built_runs = [folder for folder in _runs(run, route) if (folder / "spec.lock.yaml").is_file()]
    assert len(built_runs) == (2 if "validation_run" in spec else 1) * (1 + (route == "two-stage"))
    assert all(find_latest(folder) is not None for folder in built_runs)
    consistent_run(run)
    if case == "6x1" and route == "no-gan":  # nothing held out: eval says so, not "unreadable"
        refused(zsk("eval", run, "--device", "cpu"), "test_seen split holds no images")


def test_init_refuses_an_empty_seen_class_as_data_check_does(tmp_path):
    data, _ = _data(tmp_path / "data", "6x20")
    for image in (data / "images" / "c1").iterdir():
        image.unlink()
    checked = zsk("data", "check", data, "--no-decode")
    refused(checked, "class 'c1' has no images")
    made = zsk("init", data, "--out", tmp_path / "spec.yaml")
    refused(made, "class 'c1' has no images")
    said = [line for line in checked.output.splitlines() if line.startswith("error:")]
    assert len(said) == 1 and said[0] in made.output.splitlines()
    assert "train.batch_size" not in made.output
    assert not (tmp_path / "spec.yaml").exists()
