"""zsk init: the recommended spec's data-driven choices, and the command's errors."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from PIL import Image

from zsk.core.data.synth import synthesize
from zsk.core.recommend.init_spec import (
    PROCESS_SECONDS,
    DataFit,
    epochs_for,
    expected_cpu_seconds,
    fit_to_data,
    image_size_for,
    median_side,
    recommended_spec,
    step_flops,
)


def _shapes(folder, images_per_class: int) -> None:
    """A small shapes data set in ``folder``: 20 classes (4 unseen) of 20–24 px images."""
    synthesize(
        folder, classes=20, unseen=4, images_per_class=images_per_class, min_size=20, max_size=24
    )


@pytest.mark.parametrize(
    ("side", "cap", "size"),
    [(8, 32, 32), (16, 32, 32), (32, 32, 32), (40, 32, 32), (40, 128, 64), (100, 128, 128)]
    + [(500, 128, 128), (64, 64, 64)],
)
def test_image_size_is_the_smallest_supported_size_covering_the_side_within_the_cap(
    side, cap, size
):
    assert image_size_for(side, cap) == size


def test_median_side_reads_the_shorter_side_of_each_image(tmp_path):
    paths = []
    for i, (w, h) in enumerate([(10, 50), (30, 20), (40, 40), (90, 60), (5, 5)]):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (w, h)).save(paths[-1])
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert median_side([*paths, tmp_path / "broken.png"]) == 20  # of 10, 20, 40, 60, 5


def test_epochs_spend_the_budget_on_the_run_and_its_validation_run():
    per_step, seconds = 0.03, 600.0
    # whole batches only: 640 images make 10 batches of 64, the validation run's 380 make 5
    fit = DataFit(64, True, "", run_images=640, validation_images=380)
    assert fit.steps(3) == 3 * (10 + 5)
    assert DataFit(64, False, "", run_images=640, validation_images=0).steps(3) == 30
    # the process's own cost first, then as many steps as the rest buys
    steps = (seconds - PROCESS_SECONDS) / per_step
    epochs = epochs_for(per_step, fit, seconds)
    assert epochs == round(steps / 15)
    expected = PROCESS_SECONDS + epochs * 15 * per_step
    assert expected_cpu_seconds(per_step, fit, epochs) == pytest.approx(expected)
    assert expected == pytest.approx(seconds, rel=0.5 / epochs)
    assert epochs_for(1e6, fit, 1.0) == 1


def _fake_steps(monkeypatch, cost) -> tuple[list, list]:
    """The trainer's step and the clocks faked: warm-up steps cost 1 s, later ones ``cost(window)``
    process CPU seconds, the window counted by the sleeps between windows (which cost none)."""
    from zsk.core.recommend import init_spec
    from zsk.core.train.loop import Trainer

    clock, steps, sleeps = [0.0], [], []

    def step(trainer) -> None:
        steps.append(trainer)
        clock[0] += 1.0 if len(steps) <= 2 else cost(len(sleeps))

    monkeypatch.setattr(Trainer, "train_step", step)
    monkeypatch.setattr(init_spec.time, "process_time", lambda: clock[0])
    monkeypatch.setattr(init_spec.time, "sleep", sleeps.append)
    return steps, sleeps


@pytest.mark.parametrize(("least", "most", "timed"), [(1.25, 50, 20), (1.25, 10, 10), (0.0, 50, 5)])
def test_a_timed_step_is_the_cpu_of_the_trainers_steps_after_warming_up(
    tmp_path, monkeypatch, least, most, timed
):
    """zsk init sizes a run by the process CPU of the trainer's own step: the first two steps
    (allocations, lazy set-up) left out, then five windows, each of steps until its share of
    ``least`` seconds or of ``most`` steps has passed (at least one), a sleep apart."""
    from zsk.core.recommend import init_spec

    steps, sleeps = _fake_steps(monkeypatch, lambda window: 0.0625)
    _shapes(tmp_path / "data", images_per_class=8)
    spec = recommended_spec(tmp_path / "data", "x", 32, "no-gan", epochs=1)
    assert init_spec.step_seconds(spec, least, most) == 0.0625
    assert len(steps) == 2 + timed and len({id(t) for t in steps}) == 1
    assert sleeps == [init_spec.WINDOW_GAP_SECONDS] * (init_spec.TIMING_WINDOWS - 1)
    assert torch.get_num_threads() == spec["train"]["threads"] == 1


def test_a_slowdown_in_two_of_the_five_windows_does_not_size_the_run(tmp_path, monkeypatch):
    from zsk.core.recommend import init_spec

    steps, _ = _fake_steps(monkeypatch, lambda window: 0.125 if window in (1, 3) else 0.0625)
    _shapes(tmp_path / "data", images_per_class=8)
    spec = recommended_spec(tmp_path / "data", "x", 32, "no-gan", epochs=1)
    # four steps a window at the usual cost, two at twice it: the mean over every timed step
    # would be 1.25 / 16; the median window is a usual one
    assert init_spec.step_seconds(spec, 1.25, 50) == 0.0625
    assert len(steps) == 2 + 4 * 3 + 2 * 2


def test_the_counted_steps_are_the_trainers(tmp_path, run_zsk):
    """What zsk init counts for its epochs is what zsk train then trains, run and validation
    run together."""
    _shapes(tmp_path / "data", images_per_class=9)
    spec = recommended_spec(tmp_path / "data", "shapes", 32, "no-gan", epochs=2)
    spec["train"]["batch_size"] = 16
    fit = fit_to_data(spec)
    spec["train"]["batch_size"] = fit.batch_size
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    run_zsk("build", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "run"))
    run_zsk("train", str(tmp_path / "run"), "--device", "cpu")
    trained = [
        json.loads(path.read_text().splitlines()[-1])["step"]
        for path in (
            tmp_path / "run" / "metrics.jsonl",
            tmp_path / "run" / "validation" / "metrics.jsonl",
        )
    ]
    assert fit.validation_images > 0
    assert sum(trained) == fit.steps(2)


def test_init_writes_the_recogniser_and_the_image_gan_on_request(tmp_path, monkeypatch, run_zsk):
    monkeypatch.chdir(tmp_path)
    _shapes(tmp_path / "data", images_per_class=3)
    run_zsk("init", "data", "--out", "plain.yaml", "--cpu-minutes", "1", "--route", "no-gan")
    run_zsk("init", "data", "--out", "gan.yaml", "--cpu-minutes", "1", "--route", "image-gan")
    gan, plain = (yaml.safe_load((tmp_path / f).read_text()) for f in ("gan.yaml", "plain.yaml"))
    assert gan["validation_run"] == plain["validation_run"] == {"seed": 0}
    assert gan["model"]["image_size"] == 32 and gan["data"]["type"] == "awa2"
    assert gan["train"]["threads"] == plain["train"]["threads"] == 1
    # the same budget buys the cheaper step of the recogniser more epochs
    assert plain["train"]["epochs"] > gan["train"]["epochs"]
    assert plain["objective"]["generator"] == []
    assert [t["type"] for t in plain["objective"]["discriminator"]] == [
        "cosine_real",
        "attribute",
        "cosine_softmax",
    ]
    assert plain["model"]["trunk"]["params"]["feature_norm"] == {"type": "batch"}
    assert set(plain["model"]["heads"]) == {"attribute", "embedding"}
    assert gan["objective"]["generator"] and gan["objective"]["discriminator"][0]["type"] == "lsgan"
    assert "weight_norm" not in gan["model"]["trunk"]["params"]  # the trunk's spectral default
    header = (tmp_path / "plain.yaml").read_text().split("name:")[0]
    assert "--route no-gan" in header and "CPU minutes of one thread" in header
    run_zsk("init", "data", "--out", "gan.yaml", code=2, says=["gan.yaml exists"])
    run_zsk("init", "nowhere", "--out", "x.yaml", code=2)


def test_a_step_is_counted_with_every_update_its_objective_makes(tmp_path):
    _shapes(tmp_path, images_per_class=8)
    gan, plain = (recommended_spec(tmp_path, "x", 32, r, epochs=1) for r in ("image-gan", "no-gan"))
    # the trunk alone, forward and backward (about 3 forward passes, less the first conv's
    # input gradient, which images do not need) on a batch of real images
    from torch.utils.flop_counter import FlopCounterMode

    from zsk.core.build.composer import compose, load_data
    from zsk.core.recommend.init_spec import validated_spec

    loaded = validated_spec(plain)
    trunk = compose(loaded, load_data(loaded)).gan.discriminator.trunk
    with FlopCounterMode(display=False) as counter:
        trunk(torch.randn(plain["train"]["batch_size"], 3, 32, 32))
    trunk_step = 3 * counter.get_total_flops()
    plain_flops, gan_flops = step_flops(plain), step_flops(gan)
    assert 0.8 * trunk_step <= plain_flops < 1.5 * trunk_step
    # per image, the GAN's step also makes images, judges them and updates G through D
    per_image = gan_flops / gan["train"]["batch_size"], plain_flops / plain["train"]["batch_size"]
    assert per_image[0] > 2.5 * per_image[1]


def test_the_two_stage_route_is_the_recogniser_then_a_feature_gan_on_its_embeddings(
    tmp_path, monkeypatch, run_zsk
):
    monkeypatch.chdir(tmp_path)
    # one step time for both specs (zsk init times steps on the machine, which varies)
    monkeypatch.setattr("zsk.core.recommend.init_spec.step_seconds", lambda spec: 0.001)
    _shapes(tmp_path / "data", images_per_class=6)
    run_zsk("init", "data", "--out", "two.yaml", says=["wrote two.yaml: two-stage"])  # default
    run_zsk("init", "data", "--out", "plain.yaml", "--route", "no-gan")
    two, one = (yaml.safe_load((tmp_path / f).read_text()) for f in ("two.yaml", "plain.yaml"))
    assert list(two["stages"]) == ["recogniser", "features"]
    assert two["validation_run"] == {"seed": 0}
    recogniser, features = two["stages"]["recogniser"], two["stages"]["features"]
    assert recogniser["model"] == one["model"] and recogniser["objective"] == one["objective"]
    # the feature stage's CPU comes out of the recogniser's share of the same budget
    assert recogniser["train"]["epochs"] < one["train"]["epochs"]
    assert features["features_from"] == {"stage": "recogniser", "layer": "embedding"}
    assert features["model"]["noise_dim"] == 20  # the data set's attributes
    assert features["train"]["threads"] == 1
    from zsk.core.spec.loading import read_spec

    assert list(read_spec(tmp_path / "two.yaml").spec.stages) == ["recogniser", "features"]


def test_the_recogniser_takes_its_learning_rate_to_zero_at_its_last_epoch(
    tmp_path, monkeypatch, run_zsk
):
    from zsk.core.spec.sections import ScheduleSpec
    from zsk.core.train.optim import lr_factor

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("zsk.core.recommend.init_spec.step_seconds", lambda spec: 0.001)
    _shapes(tmp_path / "data", images_per_class=6)
    for route in ("two-stage", "no-gan", "image-gan"):
        run_zsk("init", "data", "--out", f"{route}.yaml", "--route", route, "--cpu-minutes", "1")
    two, plain, gan = (
        yaml.safe_load((tmp_path / f"{route}.yaml").read_text())
        for route in ("two-stage", "no-gan", "image-gan")
    )
    assert "schedule" not in gan["train"]  # the image GAN keeps the report's constant rate
    per_epoch = 7  # any number of batches an epoch
    for train in (plain["train"], two["stages"]["recogniser"]["train"]):
        schedule, steps = (
            ScheduleSpec.model_validate(train["schedule"]),
            train["epochs"] * per_epoch,
        )
        assert steps > 1
        assert lr_factor(schedule, 0, per_epoch) == 1.0
        assert lr_factor(schedule, steps // 2, per_epoch) == pytest.approx(1 - (steps // 2) / steps)
        assert lr_factor(schedule, steps - 1, per_epoch) == pytest.approx(1 / steps)
        assert lr_factor(schedule, steps, per_epoch) == 0.0


def test_each_seed_draws_its_own_held_out_classes(tmp_path, monkeypatch, run_zsk):
    """Runs of several seeds are judged on several draws of held-out classes, not all on one:
    the seed reaches the validation run's draw as well as training."""
    from zsk.core.build.composer import load_data
    from zsk.core.data.holdout import apply_holdout
    from zsk.core.recommend.init_spec import validated_spec

    monkeypatch.chdir(tmp_path)
    _shapes(tmp_path / "data", images_per_class=6)
    held = {}
    for seed in (0, 1, 2):
        run_zsk("init", "data", "--out", f"s{seed}.yaml", "--route", "no-gan", "--seed", str(seed))
        spec = yaml.safe_load((tmp_path / f"s{seed}.yaml").read_text())
        assert spec["train"]["seed"] == spec["validation_run"]["seed"] == seed
        data = load_data(validated_spec(spec))
        validation = apply_holdout(data, None, 0.2, spec["validation_run"]["seed"])
        held[seed] = set(validation.holdout.classes)
        assert len(held[seed]) == len(held[0]) and held[seed] <= set(data.seen)
    assert len({frozenset(classes) for classes in held.values()}) > 1
