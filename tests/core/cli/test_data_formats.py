"""`zsk data` reads every registered data set with a root: a plugin's format is checked and
prepared like a built-in one, and `--format auto` finds it by its marker files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner
from pydantic import Field

from zsk.core.cli.main import cli
from zsk.core.components.interfaces import Dataset
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.readers import class_images
from zsk.core.data.split import assemble
from zsk.registry import hookimpl
from zsk.registry import manager as plugin_manager


class ZooJson(Dataset):
    """Classes, attributes and the unseen list in one zoo.json; images in class folders."""

    name = "zoo_test"
    marker_files = ("zoo.json",)

    class Params(Dataset.Params):
        root: str = Field("data/zoo", description="folder holding zoo.json")

    def load(self) -> ZslData:
        root = Path(self.params.root)
        index = json.loads((root / "zoo.json").read_text())
        classes = list(index["attributes"])
        unseen = {name: line for line, name in enumerate(index["unseen"], 1)}
        return assemble(
            root=root,
            classes=classes,
            predicates=index["predicates"],
            attributes=torch.tensor([index["attributes"][c] for c in classes]),
            seen={c: 1 for c in classes if c not in unseen},
            unseen=unseen,
            seen_file=root / "zoo.json",
            unseen_file=root / "zoo.json",
            images_of=lambda name, at: class_images(root / "pictures" / name, name, at),
            seen_test_fraction=0.5,
            split_seed=0,
        )


@pytest.fixture
def zoo(tmp_path):
    """A zoo.json folder made from a tiny synthetic set's images, and that set's folder."""
    shapes = tmp_path / "shapes"
    runner = CliRunner()
    synth = ["data", "synth", str(shapes), "--classes", "14", "--unseen", "2"]
    result = runner.invoke(
        cli, [*synth, "--images-per-class", "2", "--min-size", "16", "--max-size", "20"]
    )
    assert result.exit_code == 0, result.output
    zoo = tmp_path / "zoo"
    shutil.copytree(shapes / "JPEGImages", zoo / "pictures")
    names = sorted(p.name for p in (zoo / "pictures").iterdir())[:4]
    for extra in set(p.name for p in (zoo / "pictures").iterdir()) - set(names):
        shutil.rmtree(zoo / "pictures" / extra)
    attributes = {name: [float(i), 1.0 - i / 4] for i, name in enumerate(names)}
    index = {"predicates": ["size", "calm"], "attributes": attributes, "unseen": names[:1]}
    (zoo / "zoo.json").write_text(json.dumps(index))

    @hookimpl
    def zsk_register_components(register):
        register(ZooJson)

    plugin_manager.reset()
    plugin_manager.register_plugin(
        SimpleNamespace(zsk_register_components=zsk_register_components), name="zoo"
    )
    yield zoo, shapes
    plugin_manager.reset()


def test_check_finds_a_plugin_format_by_its_marker_file(zoo, run_zsk):
    folder, _ = zoo
    report = json.loads(run_zsk("data", "check", folder, "--json").output)
    assert report["format"] == "zoo_test" and report["classes"] == 4
    assert report["attributes_shape"] == [4, 2] and len(report["unseen"]) == 1
    assert sum(report["images"].values()) == 8 and report["undecodable"] == []


def test_prepare_reads_a_plugin_format(zoo):
    folder, _ = zoo
    result = CliRunner().invoke(cli, ["data", "prepare", str(folder), "--size", "8"])
    assert result.exit_code == 0, result.output
    assert "prepared 8 images at 8×8" in result.output


def test_a_folder_with_two_formats_markers_asks_which(zoo):
    folder, shapes = zoo
    shutil.copy(folder / "zoo.json", shapes / "zoo.json")
    ambiguous = CliRunner().invoke(cli, ["data", "check", str(shapes), "--no-decode"])
    assert ambiguous.exit_code == 2
    assert "looks like several formats: awa2, zoo_test" in ambiguous.output
    assert "--format NAME" in ambiguous.output
    chosen = ["data", "check", str(shapes), "--no-decode", "--format", "awa2", "--json"]
    assert json.loads(CliRunner().invoke(cli, chosen).output)["format"] == "awa2"


def test_an_unknown_format_lists_the_registered_ones(zoo, tmp_path):
    folder, _ = zoo
    result = CliRunner().invoke(cli, ["data", "check", str(folder), "--format", "zoo_tst"])
    assert result.exit_code == 2 and "Did you mean 'zoo_test'?" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["data", "check", str(empty)])
    assert result.exit_code == 2
    for listed in (
        "awa2 (classes.txt)",
        "image_folder (attributes.csv)",
        "xlsa17 (res101.mat, att_splits.mat)",
        "feature_folder (features.json, features.npy)",
        "zoo_test (zoo.json)",
    ):
        assert listed in result.output
