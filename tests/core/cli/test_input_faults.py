"""Hostile inputs and damaged files through the ``zsk`` command: each ends in exit 0 or 2 with a
located message, never a traceback, a signal or a hang (docs/reliability.md lists them).
Commands that could die of a signal or hang run as subprocesses with a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests import tiny_components, tiny_runs
from tests.core.cli.faults import refused, zsk
from tests.core.data.test_feature_folder import write_folder

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes.yaml"
ZSK = Path(sys.executable).with_name("zsk")
TINY = ["--classes", "14", "--unseen", "2", "--images-per-class", "2"]
SMALL = ["--min-size", "16", "--max-size", "24"]


def _zsk_process(*args, cwd=None, timeout=240):
    return subprocess.run(
        [str(ZSK), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


@pytest.fixture
def shapes(tmp_path):
    out = tmp_path / "shapes"
    assert zsk("data", "synth", out, *TINY, *SMALL).exit_code == 0
    return out


# data preparation --------------------------------------------------------------------------
def test_a_full_disk_at_data_prepare_exits_2_not_sigbus(tmp_path, small_disk):
    disk = small_disk(256)
    data = disk / "shapes"
    assert zsk("data", "synth", data, *TINY, *SMALL).exit_code == 0
    usage = os.statvfs(disk)
    with open(disk / "filler", "wb", buffering=0) as handle:  # 8 KiB left: not the images
        handle.write(b"\0" * (usage.f_bavail * usage.f_frsize - 8192))
    done = _zsk_process("data", "prepare", data, "--size", "16")
    assert done.returncode == 2, (done.returncode, done.stderr)  # 135 was SIGBUS
    assert "no space left on the device" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in (data / ".zsk-prepared").iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("damage", ["index", "array"])
def test_a_damaged_prepared_cache_names_the_file_and_the_fix(shapes, tmp_path, tiny_shapes, damage):
    assert zsk("data", "prepare", shapes, "--size", "16").exit_code == 0
    folder = shapes / ".zsk-prepared"
    if damage == "index":
        (folder / "images-16.json").write_text('{"format": "zsk-prepared", "files": 7')
        named = "images-16.json"
    else:
        index = json.loads((folder / "images-16.json").read_text())
        objects = np.empty(len(index["files"]), dtype=object)
        np.save(folder / "images-16.npy", objects, allow_pickle=True)
        named = "images-16.npy"
    run = tmp_path / "run"
    sets = [a for s in tiny_shapes for a in ("--set", s)]
    built = zsk("build", EXAMPLE, *sets, "--set", f"data.params.root={shapes}", "--out", run)
    assert built.exit_code == 0, built.output
    trained = zsk("train", run, "--device", "cpu", "--steps", "1")
    refused(trained, "prepared images", named, "damaged", f"delete {folder}", "data prepare")


# starting workers --------------------------------------------------------------------------
def test_torchrun_workers_do_not_import_from_the_working_folder(shapes, tmp_path, tiny_shapes):
    run = tmp_path / "run"
    sets = [a for s in tiny_shapes for a in ("--set", s)]
    built = zsk("build", EXAMPLE, *sets, "--set", f"data.params.root={shapes}", "--out", run)
    assert built.exit_code == 0, built.output
    here = tmp_path / "here"
    info = here / "planted-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: planted\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[zsk]\nplanted = planted_plugin\n")
    marker = tmp_path / "imported"
    (here / "planted_plugin.py").write_text(f"open({str(marker)!r}, 'a').write('x')\n")
    done = _zsk_process("train", run, "--nproc", "2", "--steps", "1", "--device", "cpu", cwd=here)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not marker.exists(), "a worker imported planted_plugin.py from the working folder"


# specs and options -------------------------------------------------------------------------
def _alias_chain(levels: int = 10, width: int = 9) -> str:
    """A flow YAML value of ``levels`` anchors, each a list of ``width`` aliases of the one
    before: a few hundred bytes that stand for ``width ** levels`` values."""
    parts = ["&a0 [" + ",".join("1" * width) + "]"]
    for level in range(1, levels):
        parts.append(f"&a{level} [" + ",".join([f"*a{level - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


def test_a_nested_alias_override_is_refused_at_once():
    value = _alias_chain()
    assert len(value) < 600
    done = _zsk_process("build", EXAMPLE, "--set", f"train.batch_size={value}", timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--set train.batch_size=" in done.stderr and "aliases" in done.stderr
    looped = zsk("build", EXAMPLE, "--set", "train.batch_size=&a [*a]")
    refused(looped, "refers to itself")


def test_seeds_beyond_64_bits_are_refused_where_they_enter(tmp_path):
    huge = 2**64
    built = zsk("build", EXAMPLE, "--set", f"train.seed={huge}")
    refused(built, "train.seed", "less than or equal to 9223372036854775807")
    drawn = zsk("generate", tmp_path, "--class", "x", "--seed", huge)
    refused(drawn, "--seed", "0<=x<=9223372036854775807")


def test_non_finite_generate_attributes_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with tiny_components.registered():
        tiny_components.make_data(tmp_path / "data")
        run = tiny_runs.write_run(tmp_path, tmp_path / "data", steps=1)
        assert zsk("train", run, "--device", "cpu").exit_code == 0
        for value in ("nan", "inf", "-inf", "lots"):
            drawn = zsk("generate", run, "--attributes", f"r={value}", "--out", "x.png")
            refused(drawn, "--attributes", "not a finite number")
        assert not (tmp_path / "x.png").exists()


# data files --------------------------------------------------------------------------------
def _own_data(root: Path, attributes: str, image=None) -> Path:
    root.mkdir(parents=True)
    (root / "attributes.csv").write_text(attributes)
    (root / "seen.txt").write_text("cat\ndog\n")
    (root / "unseen.txt").write_text("eel\n")
    for name in ("cat", "dog", "eel"):
        (root / "images" / name).mkdir(parents=True)
        for index in range(2):
            (image or Image.new("RGB", (8, 8))).save(root / "images" / name / f"{index}.png")
    return root


def test_a_line_break_inside_a_csv_field_is_located(tmp_path):
    root = _own_data(tmp_path / "own", 'class,a,b\ncat,0.5,1\n"dog\nhound",0.2,1\neel,1,0\n')
    refused(zsk("data", "check", root), "attributes.csv:3", "line break")


def test_a_matlab_struct_is_refused_naming_the_variable(tmp_path):
    h5py = pytest.importorskip("h5py")
    from zsk.testing.xlsa17 import write_mat73, write_xlsa17

    tiny = write_xlsa17(tmp_path / "xlsa")
    write_mat73(tmp_path / "xlsa" / "att_splits.mat", tiny.variables)
    with h5py.File(tmp_path / "xlsa" / "att_splits.mat", "a") as mat:
        del mat["att"]
        mat.create_group("att").create_dataset("field", data=np.ones(3))
    refused(zsk("data", "check", tmp_path / "xlsa"), "att_splits.mat", "variable 'att'", "struct")


def test_a_samples_csv_that_is_not_utf8_is_located(tmp_path):
    write_folder(tmp_path / "features", np.ones((5, 3), dtype=np.float32))
    samples = tmp_path / "features" / "samples.csv"
    samples.write_bytes(samples.read_bytes().replace(b"cat/1", b"c\xe4t/1"))
    refused(zsk("data", "check", tmp_path / "features"), "samples.csv", "not UTF-8")


@pytest.mark.parametrize("content", ["list", "garbage"])
def test_crop_weights_that_are_not_a_state_dict_are_refused(shapes, tmp_path, content):
    if content == "list":
        weights = tmp_path / "weights.pth"
        torch.save([torch.zeros(2)], weights)
    else:
        weights = tmp_path / "weights.safetensors"
        weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    cropped = zsk("data", "crop", shapes, tmp_path / "cropped", "--weights", weights)
    refused(cropped, str(weights))


def test_16_bit_grey_images_keep_their_tones(tmp_path):
    ramp = np.linspace(0, 65535, 16 * 16).reshape(16, 16).astype(np.uint16)
    deep = Image.fromarray(ramp)
    attributes = "class,a,b\ncat,0.5,1\ndog,0.2,1\neel,1,0\n"
    root = _own_data(tmp_path / "own", attributes, image=deep)
    assert Image.open(root / "images" / "cat" / "0.png").mode.startswith("I")
    prepared = zsk("data", "prepare", root, "--size", "16")
    assert prepared.exit_code == 0, prepared.output
    pixels = np.load(root / ".zsk-prepared" / "images-16.npy")
    assert pixels.shape == (6, 3, 16, 16)
    assert (pixels == 255).mean() < 0.05  # Pillow's own conversion made 99% of them white
    assert abs(pixels.mean() - (ramp / 257.0).mean()) < 2  # the tones kept, scaled to 8 bits
