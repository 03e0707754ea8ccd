"""`zsk data synth | check | prepare | crop` through the command line."""

import json

import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli

TINY = ["--classes", "14", "--unseen", "2", "--images-per-class", "2"]
SMALL = ["--min-size", "16", "--max-size", "24"]


@pytest.fixture
def shapes(tmp_path):
    out = tmp_path / "shapes"
    result = CliRunner().invoke(cli, ["data", "synth", str(out), *TINY, *SMALL])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_synth_says_where_it_wrote_and_what_comes_next(shapes):
    out, output = shapes
    assert f"wrote 14 classes (12 seen, 2 unseen), 20 predicates and 28 images to {out}" in output
    assert f"next: zsk build examples/shapes.yaml --set data.params.root={out}" in output


def test_synth_refuses_a_non_empty_folder_without_force(shapes, tmp_path):
    out, _ = shapes
    result = CliRunner().invoke(cli, ["data", "synth", str(out), *TINY, *SMALL])
    assert result.exit_code == 2 and "add --force" in result.output
    forced = CliRunner().invoke(cli, ["data", "synth", str(out), "--force", *TINY, *SMALL])
    assert forced.exit_code == 0
    other = tmp_path / "mine"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    refused = CliRunner().invoke(cli, ["data", "synth", str(other), "--force", *TINY])
    assert refused.exit_code == 2 and (other / "precious.txt").exists()


def test_check_reports_the_data_set(shapes, run_zsk):
    out, _ = shapes
    report = json.loads(run_zsk("data", "check", out, "--json").output)
    assert report["format"] == "awa2" and report["classes"] == 14
    assert report["attributes_shape"] == [14, 20] and len(report["unseen"]) == 2
    assert set(report["images_per_class"].values()) == {2} and report["undecodable"] == []
    table = CliRunner().invoke(cli, ["data", "check", str(out)])
    assert "attribute matrix 14×20" in table.output and "every image decodes" in table.output


def test_check_lists_undecodable_files_without_failing(shapes):
    out, _ = shapes
    broken = next((out / "JPEGImages").rglob("*.jpg"))
    broken.write_bytes(b"")
    result = CliRunner().invoke(cli, ["data", "check", str(out), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["undecodable"] == [str(broken)]


def test_check_exits_2_on_a_structural_fault(shapes):
    out, _ = shapes
    first_unseen = (out / "testclasses.txt").read_text().split()[0]
    with (out / "trainclasses.txt").open("a") as f:
        f.write(first_unseen + "\n")
    result = CliRunner().invoke(cli, ["data", "check", str(out)])
    assert result.exit_code == 2
    assert "both splits" in result.output and "testclasses.txt:1" in result.output
    assert "Traceback" not in result.output


def test_check_exits_2_on_a_class_without_images(shapes):
    out, _ = shapes
    name = (out / "testclasses.txt").read_text().split()[0]
    for image in (out / "JPEGImages" / name).iterdir():
        image.unlink()
    result = CliRunner().invoke(cli, ["data", "check", str(out), "--no-decode"])
    assert result.exit_code == 2 and f"class '{name}' has no images" in result.output


def test_prepare_writes_the_fast_path(shapes):
    out, _ = shapes
    result = CliRunner().invoke(cli, ["data", "prepare", str(out), "--size", "16"])
    assert result.exit_code == 0, result.output
    assert "prepared 28 images at 16×16" in result.output
    assert (out / ".zsk-prepared" / "images-16.npy").is_file()


def test_check_of_a_folder_that_is_no_data_set(tmp_path):
    result = CliRunner().invoke(cli, ["data", "check", str(tmp_path)])
    assert result.exit_code == 2 and "zsk data synth" in result.output


def test_crop_without_weights_says_which_file_to_put_where(shapes, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    out, _ = shapes
    result = CliRunner().invoke(cli, ["data", "crop", str(out), str(tmp_path / "cropped")])
    assert result.exit_code == 2
    assert "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth" in result.output
    assert "--weights" in result.output and str(tmp_path / "hub" / "checkpoints") in result.output
