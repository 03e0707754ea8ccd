"""Staged specs through the command line on tiny data: the two-stage spec `zsk init --route
two-stage` writes, and the example's. `zsk build` builds every stage and its validation run,
`zsk train` trains them in order with the features extracted in between, a `zsk train` stopped
inside the second stage is refused without `--resume` and continued with it without touching
the first stage, and `zsk eval` reports every route of both stages with a headline chosen by
validation H."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from zsk.core.rundir.directory import load_run
from zsk.core.rundir.stages import features_dir
from zsk.core.train.checkpoint import find_latest, step_of
from zsk.core.train.reporter import METRICS_FILE
from zsk.core.train.trained_weights import load_generator_and_discriminator

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes-two-stage.yaml"
FEATURE_STEPS = 300
#: The routes GZSL calibrates on a validation run, by kind: those of a recogniser without a
#: generator (zsk init's), and those of the example's, whose recogniser also imagines images.
RECOGNISER_ROUTES = {
    "recogniser/embedding": "embedding",
    "features/generative": "feature-generative",
    "recogniser/embedding+features/generative": "embedding + feature-generative",
}
IMAGE_GAN_ROUTES = {
    **RECOGNISER_ROUTES,
    "recogniser/generative": "image-generative",
    "recogniser/combined": "embedding + image-generative",
}


def tiny_stages(tiny_shapes: tuple[str, ...]) -> list[str]:
    """``--set`` arguments shrinking both stages of the example (its validation runs kept)."""
    recogniser = [
        f"stages.recogniser.{item}" for item in tiny_shapes if "validation_run" not in item
    ]
    recogniser += ["stages.recogniser.train.epochs=null", "stages.recogniser.train.steps=2"]
    features = [
        "stages.features.model.generator.params.hidden=[16]",
        "stages.features.model.heads.real_fake.params.hidden=[16]",
        "stages.features.train.batch_size=8",
        f"stages.features.train.steps={FEATURE_STEPS}",
    ]
    return [part for item in recogniser + features for part in ("--set", item)]


def _zsk_process(*args: str, cwd: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from zsk.core.cli.main import main; main()", *args]
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _interrupt_when(process: subprocess.Popen, marker: Path) -> str:
    """SIGTERM ``process`` once ``marker`` exists; its stderr."""
    deadline = time.monotonic() + 300
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    return stderr


def _checkpoints(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "checkpoints").glob("*"))}


def _has_aliases(text: str) -> bool:
    """Whether YAML ``text`` uses anchors and aliases (a value shared by reference)."""
    return any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text))


@pytest.mark.slow
def test_the_default_spec_of_zsk_init_builds_trains_resumes_and_evaluates_with_no_other_command(
    tmp_path, monkeypatch, run_zsk, tiny_synth, consistent_run
):
    monkeypatch.chdir(tmp_path)
    run_zsk("data", "synth", "data/shapes", *tiny_synth)
    # the default route, at init's smallest budget: one pass of the recogniser; the feature
    # stage keeps its length
    made = ("init", "data/shapes", "--cpu-minutes", "0.05")
    run_zsk(*made, "--out", "two.yaml", says=["wrote two.yaml: two-stage"])
    written = Path("two.yaml").read_text()
    assert not _has_aliases(written), "a user editing one value would change another"
    feature_steps = yaml.safe_load(written)["stages"]["features"]["train"]["steps"]

    run_zsk("build", "two.yaml", says=["recogniser -> features"])
    run = Path("runs") / "two"
    assert Path("runs/.latest").read_text().strip() == str(run)
    _interrupt_inside_the_second_stage_and_resume(
        run_zsk, consistent_run, run, feature_steps, during="training"
    )
    _check_every_route_and_the_headline(run_zsk, run, RECOGNISER_ROUTES)
    consistent_run(run)
    # built with a relative run directory, the feature stage still reads its features from
    # any working directory (zsk eval /abs/run from elsewhere)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    features = load_run(tmp_path / run / "features")
    assert features.data.is_features and len(features.data.train) > 0


@pytest.mark.slow
def test_the_example_two_stage_spec_builds_trains_resumes_and_evaluates(
    tmp_path, monkeypatch, run_zsk, tiny_shapes, tiny_synth, consistent_run
):
    monkeypatch.chdir(tmp_path)
    run_zsk("data", "synth", "data/shapes", *tiny_synth)
    run_zsk("build", EXAMPLE, *tiny_stages(tiny_shapes), says=["recogniser -> features"])
    run = Path("runs") / "shapes-two-stage"
    recogniser, features = run / "recogniser", run / "features"
    for folder in (recogniser, recogniser / "validation", features, features / "validation"):
        assert (folder / "spec.lock.yaml").is_file() and (folder / "init.safetensors").is_file()
    assert Path("runs/.latest").read_text().strip() == str(run)

    _interrupt_inside_the_second_stage_and_resume(
        run_zsk, consistent_run, run, FEATURE_STEPS, during="extraction"
    )
    _check_no_held_out_class_leaks(recogniser, features)
    _check_features_are_the_recognisers_embeddings(recogniser, features)

    _check_every_route_and_the_headline(run_zsk, run, IMAGE_GAN_ROUTES)
    rebuild = ("build", EXAMPLE, *tiny_stages(tiny_shapes))
    run_zsk(*rebuild, code=2, says=["already holds training checkpoints", "--force"])

    unseen = Path("data/shapes/testclasses.txt").read_text().split()[0]
    drawn = recogniser / "pictures" / "grid.png"
    run_zsk("generate", "--class", unseen, "--n", "2", "--out", drawn, "--device", "cpu")
    assert Image.open(drawn).size[0] > 0  # the recogniser stage, the one with a generator, drew


def _interrupt_inside_the_second_stage_and_resume(
    run_zsk, consistent_run, run: Path, feature_steps: int, *, during: str
) -> None:
    """`zsk train` (the latest build, ``run`` in the working folder) in a process of its own,
    stopped by SIGTERM inside the second stage: ``during="extraction"`` as soon as its first
    feature folder exists (the stop lands between extraction batches, the rows written kept),
    ``during="training"`` once its validation run logs (the stop lands between steps). The
    first stage is trained either way; a plain `zsk train` is refused, and `zsk train
    --resume` does not train the first stage again and continues the second where it
    stopped."""
    recogniser, features = run / "recogniser", run / "features"
    marker = {
        "extraction": features_dir(recogniser / "validation", "embedding"),
        "training": features / "validation" / METRICS_FILE,
    }[during]
    process = _zsk_process("train", "--device", "cpu", cwd=Path.cwd())
    stderr = _interrupt_when(process, marker)
    assert process.returncode == 143, stderr
    assert f"continue with: zsk train {run} --resume" in stderr
    consistent_run(run)
    trained_first = {r: _checkpoints(r) for r in (recogniser, recogniser / "validation")}
    assert all(trained_first.values()), "the first stage finished before the second began"
    if during == "extraction":
        assert "features kept in" in stderr
        assert find_latest(features / "validation") is None
    else:
        stopped_at = step_of(find_latest(features / "validation"))
        assert 0 < stopped_at < feature_steps
    assert find_latest(features) is None

    run_zsk("train", "--device", "cpu", code=2, says=["already has checkpoints", "--resume"])
    resumed = run_zsk("train", "--device", "cpu", "--resume")
    assert f"already trained {recogniser} to step {step_of(find_latest(recogniser))}" in (
        resumed.output
    )
    if during == "extraction":
        finished = f"features of {recogniser / 'validation'} -> "
        assert finished in resumed.output, "the stopped extraction is finished"
    else:
        assert "features of" not in resumed.output, "the finished extractions are kept"
        continued = f"training {features / 'validation'} on cpu (fp32), steps {stopped_at}→"
        assert continued in resumed.output  # continued, not restarted
    assert f"trained {features} to step {feature_steps}" in resumed.output
    for folder, files in trained_first.items():
        assert _checkpoints(folder) == files, f"{folder} was trained again"


def test_a_staged_run_without_an_image_generator_draws_no_pictures(
    tmp_path, monkeypatch, run_zsk, tiny_shapes, tiny_synth
):
    monkeypatch.chdir(tmp_path)
    run_zsk("data", "synth", "data/shapes", *tiny_synth)
    no_gan = ("--set", "stages.recogniser.objective.generator=[]", "--set", "validation_run=null")
    run_zsk("build", EXAMPLE, *tiny_stages(tiny_shapes), "--out", "runs/r")
    assert Path("runs/r/features/validation/spec.lock.yaml").is_file()
    run_zsk("build", EXAMPLE, *tiny_stages(tiny_shapes), *no_gan, "--out", "runs/r")
    for stage in ("recogniser", "features"):  # the validation runs the new spec has not
        assert not Path(f"runs/r/{stage}/validation/spec.lock.yaml").exists()
        assert Path(f"runs/r/{stage}/spec.lock.yaml").is_file()
    run_zsk(
        "generate",
        "--class",
        "x",
        code=2,
        says=["no stage of runs/r (recogniser, features) trains an image generator"],
    )


def _check_every_route_and_the_headline(run_zsk, run: Path, routes: dict[str, str]) -> None:
    """`zsk eval` evaluates each stage on its own validation run, calibrates ``routes`` (route
    -> kind) there and names the headline routes over every stage (GZSL: highest validation H;
    ZSL: the recogniser's embedding route);
    `zsk report` links the stages' reports."""
    fast = ("--device", "cpu", "--probe-steps", "5", "--images-per-class", "2")
    run_zsk("eval", *fast, "--classifier-epochs", "2", says=["headline: "])
    staged = json.loads((run / "eval.json").read_text())
    stages = {name: json.loads((run / name / "eval.json").read_text()) for name in staged["stages"]}
    assert list(stages) == ["recogniser", "features"] and staged["stages"] == stages
    validation_h, cross_fitted = {}, {}
    for name, result in stages.items():
        for route, numbers in result["routes"].items():
            calibration = numbers["gzsl"].get("calibration")
            if calibration is not None:
                assert calibration["source"].startswith(
                    f"validation run {run / name / 'validation'}"
                )
                validation_h[f"{name}/{route}"] = calibration["val_h"]
                cross_fitted[f"{name}/{route}"] = numbers["cross_fitted"]
    # the recogniser's embedding route and the feature stage's classifier, combined: chosen on
    # the recogniser's validation run like its embedding route
    for route, numbers in staged["combined"].items():
        calibration = numbers["gzsl"]["calibration"]
        assert calibration["source"].startswith(f"validation run {run / 'recogniser'}")
        assert 0 <= numbers["combination"]["embedding_weight"] <= 1
        validation_h[route] = calibration["val_h"]
        cross_fitted[route] = numbers["cross_fitted"]
    assert set(validation_h) == set(routes) == set(cross_fitted)
    assert {route: staged["kinds"][route] for route in routes} == routes
    headline = staged["headline"]
    # GZSL by validation H, the first among equals; ZSL the embedding route
    assert headline["route"] == max(validation_h, key=lambda name: validation_h[name])
    assert headline["zsl_route"] == "recogniser/embedding"
    assert headline["cross_fitted"] == cross_fitted
    assert headline["candidates"] == validation_h
    assert headline["kind"] == routes[headline["route"]]
    assert headline["zsl_kind"] == routes[headline["zsl_route"]]

    _check_carried_constants(run_zsk, run, staged, fast)
    run_zsk("report", *fast, says=[str(run / "report.md")])
    report = (run / "report.md").read_text()
    assert "**Headline**: " in report and headline["route"] in report
    for name in stages:
        assert f"]({name}/report.md)" in report and (run / name / "report.md").is_file()


def _check_no_held_out_class_leaks(recogniser: Path, features: Path) -> None:
    """Each validation run of the second stage holds out the classes that the first stage's
    validation run held out, and reads the features that run's discriminator gave."""
    image_holdout = load_run(recogniser / "validation").data.holdout
    feature_holdout = load_run(features / "validation").data.holdout
    assert image_holdout is not None and feature_holdout is not None
    assert feature_holdout.classes == image_holdout.classes
    for reader, source in (
        (features, recogniser),
        (features / "validation", recogniser / "validation"),
    ):
        lock = yaml.safe_load((reader / "spec.lock.yaml").read_text())
        root = Path(lock["data"]["params"]["root"])
        index = json.loads((root / "features.json").read_text())
        assert index["source"]["run"] == str(source.resolve())
        assert index["source"]["checkpoint"] == find_latest(source).name


def _check_features_are_the_recognisers_embeddings(recogniser: Path, features: Path) -> None:
    """Row 0 of the first stage's features is its embedding head's φ of the first training
    image, computed here from the trained weights with the training scaling x / 127.5 - 1."""
    build = load_run(recogniser)
    gan = load_generator_and_discriminator(build, recogniser)
    size = build.dims.image_size
    image = Image.open(build.data.train[0].path).convert("RGB")
    image = image.resize((size, size), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        phi = gan.discriminator.heads["embedding"](gan.discriminator.trunk(pixels / 127.5 - 1))
    lock = yaml.safe_load((features / "spec.lock.yaml").read_text())
    stored = np.load(Path(lock["data"]["params"]["root"]) / "features.npy")
    assert stored.shape == (len(load_run(features).data.features), build.spec.model.embedding_dim)
    assert np.allclose(stored[0], phi.flatten().numpy(), atol=1e-3)


def _check_carried_constants(run_zsk, run: Path, carried: dict, fast: tuple[str, ...]) -> None:
    """`zsk eval` carries every calibrated route's constant of every stage, and the
    combination's across the stages, from its validation run into the run's scale
    (``carried``, the staged eval.json); `--no-carry-constant` applies each as chosen."""
    run_zsk("eval", *fast, "--classifier-epochs", "2", "--no-carry-constant")
    chosen = json.loads((run / "eval.json").read_text())

    def constants(result: dict) -> dict[str, dict]:
        every = {
            f"{stage}/{name}": route["gzsl"].get("calibration")
            for stage, stage_result in result["stages"].items()
            for name, route in stage_result["routes"].items()
        } | {name: route["gzsl"]["calibration"] for name, route in result["combined"].items()}
        return {name: calibration for name, calibration in every.items() if calibration}

    before, after = constants(chosen), constants(carried)
    assert set(before) == set(after) and any("+" in name for name in after)
    for name, calibration in after.items():
        assert before[name].get("chosen_gamma") is None
        assert calibration["chosen_gamma"] == before[name]["gamma"], name
        assert calibration["val_h"] == before[name]["val_h"], name
