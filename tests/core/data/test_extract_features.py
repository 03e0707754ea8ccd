"""`zsk data features`: pooled backbone or run features of an image data set, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import timm.data
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from zsk.core.cli.main import cli
from zsk.core.data.extract import ExtractionStopped, extract
from zsk.core.data.extractors import Extractor, timm_extractor
from zsk.core.data.folder_formats import load_folder
from zsk.core.data.images import decode

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes.yaml"


def zsk(*args: object):
    with torch.random.fork_rng(devices=[]):
        return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes") / "data"
    result = zsk(
        "data", "synth", root, "--classes", "16", "--unseen", "2", "--images-per-class", "2",
        "--min-size", "16", "--max-size", "24",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """test_resnet weights as a classifier checkpoint holds them (with its fc layer)."""
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path_factory.mktemp("weights") / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def _expected(root: Path, weights: Path, size: int) -> np.ndarray:
    """Pooled test_resnet features of every image, computed without zsk's extractor."""
    from safetensors.torch import load_file

    model = timm.create_model("test_resnet", pretrained=False, num_classes=0)
    state = {k: v for k, v in load_file(str(weights)).items() if not k.startswith("fc.")}
    model.load_state_dict(state)
    config = timm.data.resolve_data_config({}, model=model.eval())
    _, data = load_folder(root)
    rows = []
    for sample in data.train + data.test_seen + data.test_unseen:
        pixels = torch.from_numpy(decode(sample.path, size).transpose(2, 0, 1).copy()).float()
        x = (pixels / 255 - torch.tensor(config["mean"]).view(3, 1, 1)) / torch.tensor(
            config["std"]
        ).view(3, 1, 1)
        with torch.no_grad():
            rows.append(model(x[None])[0].numpy())
    return np.stack(rows)


def test_backbone_features_are_the_pooled_backbone_outputs(shapes, weights, tmp_path):
    out = tmp_path / "features"
    result = zsk(
        "data", "features", shapes, "--backbone", "test_resnet", "--weights", weights,
        "--image-size", "32", "--out", out, "--batch-size", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    dim = timm.create_model("test_resnet", pretrained=False, num_classes=0).num_features
    assert f"wrote 32 features ({dim}-d)" in result.output  # 16 classes × 2 images
    name, data = load_folder(out)
    assert name == "feature_folder" and data.feature_dim == dim
    np.testing.assert_allclose(data.features.numpy(), _expected(shapes, weights, 32), atol=1e-5)
    _, images = load_folder(shapes)
    assert [s.label for s in data.train] == [s.label for s in images.train]
    assert len(data.test_unseen) == len(images.test_unseen)
    assert data.classes == images.classes and data.unseen == images.unseen
    assert torch.equal(data.attributes, images.attributes)
    index = json.loads((out / "features.json").read_text())
    assert index["source"]["backbone"] == "test_resnet" and index["source"]["image_size"] == 32
    again = zsk("data", "features", shapes, "--backbone", "test_resnet", "--weights", weights,
                "--image-size", "32", "--out", out)  # fmt: skip
    assert again.exit_code == 0 and "already holds these 32 features" in again.output
    check = zsk("data", "check", out)
    assert check.exit_code == 0 and f"feature matrix 32×{dim}" in check.output


class Interrupt(Exception):
    pass


def _counting(extractor: Extractor, calls: list[int], stop_after: int | None) -> Extractor:
    def features(images: torch.Tensor) -> torch.Tensor:
        if stop_after is not None and len(calls) == stop_after:
            raise Interrupt
        calls.append(len(images))
        return extractor.features(images)

    return Extractor(extractor.image_size, extractor.dim, extractor.identity, features)


def test_an_interrupted_extraction_resumes_where_it_stopped(shapes, weights, tmp_path):
    _, data = load_folder(shapes)
    base = timm_extractor("test_resnet", weights, 32, torch.device("cpu"))
    full = tmp_path / "full"
    extract(data, full, base, source_format="awa2", batch_size=5)
    out = tmp_path / "out"
    first: list[int] = []
    with pytest.raises(Interrupt):
        extract(data, out, _counting(base, first, 2), source_format="awa2", batch_size=5)
    assert json.loads((out / "progress.json").read_text())["done"] == 10
    unfinished = zsk("data", "check", out)
    assert unfinished.exit_code == 2 and "has not finished" in unfinished.output
    second: list[int] = []
    result = extract(data, out, _counting(base, second, None), source_format="awa2", batch_size=5)
    assert result.resumed_at == 10 and sum(second) == 22
    assert np.array_equal(np.load(out / "features.npy"), np.load(full / "features.npy"))
    assert (out / "samples.csv").read_text() == (full / "samples.csv").read_text()
    assert not (out / "progress.json").exists()


def test_another_extraction_in_the_folder_is_refused_unless_forced(shapes, weights, tmp_path):
    out = tmp_path / "out"
    args = ["data", "features", shapes, "--backbone", "test_resnet", "--weights", weights,
            "--out", out]  # fmt: skip
    assert zsk(*args, "--image-size", "32").exit_code == 0
    other = zsk(*args, "--image-size", "16")
    assert other.exit_code == 2 and "another extraction" in other.output
    forced = zsk(*args, "--image-size", "16", "--force")
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "features.json").read_text())["source"]["image_size"] == 16


def test_undecodable_images_are_skipped_rows(shapes, weights, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(shapes, root)
    broken = next((root / "JPEGImages").iterdir()) / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    result = zsk("data", "features", root, "--backbone", "test_resnet", "--weights", weights,
                 "--image-size", "16", "--out", out)  # fmt: skip
    assert result.exit_code == 0 and "1 undecodable images skipped" in result.output
    lines = (out / "samples.csv").read_text().splitlines()
    assert sum(line.startswith("skipped,") and "broken.jpg" in line for line in lines) == 1
    _, data = load_folder(out)
    assert len(data.train) + len(data.test_seen) + len(data.test_unseen) == 32


def _fails(*args) -> str:
    result = zsk(*args)
    assert result.exit_code == 2, result.output
    return result.output


def test_backbone_mistakes_exit_2(shapes, weights, tmp_path):
    out = tmp_path / "out"
    base = ("data", "features", shapes, "--out", out)
    assert "Did you mean" in _fails(*base, "--backbone", "test_resnett", "--weights", weights)
    assert "never downloads" in _fails(*base, "--backbone", "test_resnet")
    missing = _fails(*base, "--backbone", "test_resnet", "--weights", tmp_path / "none.st")
    assert "none.st not found" in missing
    other = timm.create_model("test_efficientnet", pretrained=False)
    wrong = tmp_path / "effnet.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(wrong))
    text = _fails(*base, "--backbone", "test_resnet", "--weights", wrong)
    assert "does not fit 'test_resnet'" in text or "lacks" in text
    model = timm.create_model("test_resnet", pretrained=False)
    extra = {k: v.contiguous() for k, v in model.state_dict().items()}
    extra["head.extra.weight"] = torch.zeros(2)
    surplus = tmp_path / "surplus.safetensors"
    save_file(extra, str(surplus))
    text = _fails(*base, "--backbone", "test_resnet", "--weights", surplus)
    assert "1 tensors that 'test_resnet' does not have, e.g. head.extra.weight" in text
    notfile = tmp_path / "junk.safetensors"
    notfile.write_text("junk")
    assert "not a safetensors file" in _fails(
        *base, "--backbone", "test_resnet", "--weights", notfile
    )
    assert "either --backbone" in _fails(*base)
    assert not out.exists()


@pytest.mark.slow
def test_run_features_are_the_trained_discriminators_pooled_trunk(
    shapes, tmp_path, monkeypatch, tiny_shapes
):
    from zsk.core.evaluate.inference import pooled_features
    from zsk.core.evaluate.trained import load_trained

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "shapes.yaml"
    spec.write_text(EXAMPLE.read_text())
    overrides = [p for item in tiny_shapes for p in ("--set", item)]
    built = zsk("build", spec, *overrides, "--set", f"data.params.root={shapes}", "--out", "run")
    assert built.exit_code == 0, built.output
    assert zsk("train", "run", "--steps", "2", "--device", "cpu").exit_code == 0
    untrained_dir = tmp_path / "untrained"
    zsk("build", spec, *overrides, "--set", f"data.params.root={shapes}", "--out", untrained_dir)
    text = _fails("data", "features", shapes, "--run", untrained_dir, "--out", tmp_path / "u")
    assert "no checkpoint" in text
    out = tmp_path / "phi"
    result = zsk("data", "features", shapes, "--run", "run", "--out", out)
    assert result.exit_code == 0, result.output
    _, data = load_folder(out)
    trained = load_trained(tmp_path / "run")
    size = trained.build.dims.image_size
    _, images = load_folder(shapes)
    samples = images.train + images.test_seen + images.test_unseen
    pixels = torch.from_numpy(np.stack([decode(s.path, size).transpose(2, 0, 1) for s in samples]))
    expected = pooled_features(trained.build.gan, pixels, torch.device("cpu"), 8)
    torch.testing.assert_close(data.features, expected, atol=1e-5, rtol=1e-4)
    embedded = zsk("data", "features", shapes, "--run", "run", "--layer", "embedding",
                   "--out", tmp_path / "emb")  # fmt: skip
    assert embedded.exit_code == 0, embedded.output
    assert load_folder(tmp_path / "emb")[1].feature_dim == 8  # model.embedding_dim


def test_a_feature_source_or_a_feature_run_is_refused(shapes, tmp_path, monkeypatch):
    from zsk.testing.xlsa17 import write_xlsa17

    write_xlsa17(tmp_path / "xlsa17")
    text = _fails("data", "features", tmp_path / "xlsa17", "--run", "x", "--out", tmp_path / "o")
    assert "not found" in text or "not a run directory" in text
    monkeypatch.chdir(tmp_path)
    example = EXAMPLE.parent / "fclswgan-awa2-xlsa17.yaml"
    built = zsk("build", example, "--set", f"data.params.root={tmp_path / 'xlsa17'}",
                "--set", "validation_run=null", "--out", "feature-run")  # fmt: skip
    assert built.exit_code == 0, built.output
    text = _fails("data", "features", shapes, "--run", "feature-run", "--out", tmp_path / "o")
    assert "trains on features, not images" in text
    weights = tmp_path / "w.safetensors"
    model = timm.create_model("test_resnet", pretrained=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    text = _fails("data", "features", tmp_path / "xlsa17", "--backbone", "test_resnet",
                  "--weights", weights, "--out", tmp_path / "o")  # fmt: skip
    assert "already a feature data set" in text


@pytest.mark.slow
def test_a_killed_extraction_resumes_to_the_same_features(shapes, tmp_path):
    """SIGKILL mid-way (no chance to clean up), then the same command: identical features."""
    import os
    import signal
    import subprocess
    import sys
    import time

    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False)
    weights = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    args = ["data", "features", shapes, "--backbone", "resnet18", "--weights", weights,
            "--image-size", "96", "--batch-size", "1", "--workers", "1"]  # fmt: skip
    out = tmp_path / "killed"
    entry = "from zsk.core.cli.main import main; main()"
    command = [sys.executable, "-c", entry, *map(str, args), "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    progress = out / "progress.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if progress.is_file() and json.loads(progress.read_text())["done"] >= 3:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(progress.read_text())["done"]
    assert 3 <= done < 32, "the extraction was not killed mid-way"
    resumed = zsk(*args, "--out", out)
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at row" in resumed.output
    whole = zsk(*args, "--out", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    np.testing.assert_array_equal(
        np.load(out / "features.npy"), np.load(tmp_path / "whole" / "features.npy")
    )


def test_a_stop_request_ends_the_extraction_between_batches_and_it_resumes(
    shapes, weights, tmp_path
):
    _, data = load_folder(shapes)
    base = timm_extractor("test_resnet", weights, 32, torch.device("cpu"))
    full, out = tmp_path / "full", tmp_path / "out"
    extract(data, full, base, source_format="awa2", batch_size=5)
    asked: list[int] = []

    def after_two_batches() -> bool:
        asked.append(1)
        return len(asked) >= 2

    with pytest.raises(ExtractionStopped) as stopped:
        extract(data, out, base, source_format="awa2", batch_size=5, should_stop=after_two_batches)
    assert (stopped.value.done, stopped.value.count) == (10, 32)
    assert json.loads((out / "progress.json").read_text())["done"] == 10
    resumed = extract(
        data, out, base, source_format="awa2", batch_size=5, should_stop=lambda: False
    )
    assert resumed.resumed_at == 10
    assert np.array_equal(np.load(out / "features.npy"), np.load(full / "features.npy"))
