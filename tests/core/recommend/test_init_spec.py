"""zsk init: the recommended spec's data-driven choices, and the command's errors."""

from __future__ import annotations

import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from zsk.core.cli.main import cli
from zsk.core.data.synth import synthesize
from zsk.core.recommend.init_spec import (
    BATCH,
    FLOPS_PER_SECOND,
    epochs_for,
    image_size_for,
    median_side,
    recommended_spec,
    step_flops,
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
    flops, images, seconds = 2e9, 640, 60.0
    steps_of_the_run = seconds * FLOPS_PER_SECOND / flops / 1.6  # the validation run: 0.6 more
    assert epochs_for(int(flops), images, seconds) == round(steps_of_the_run * BATCH / images)
    assert epochs_for(int(1e15), images, 1.0) == 1


def test_init_writes_a_spec_with_a_validation_run_and_a_no_gan_twin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    synthesize(
        tmp_path / "data", classes=20, unseen=4, images_per_class=3, min_size=20, max_size=24
    )
    runner = CliRunner()
    made = runner.invoke(cli, ["init", "data", "--out", "gan.yaml", "--cpu-minutes", "1"])
    assert made.exit_code == 0, made.output
    twin = runner.invoke(
        cli, ["init", "data", "--out", "plain.yaml", "--cpu-minutes", "1", "--no-gan"]
    )
    assert twin.exit_code == 0, twin.output
    gan, plain = (yaml.safe_load((tmp_path / f).read_text()) for f in ("gan.yaml", "plain.yaml"))
    assert gan["validation_run"] == {} and plain["validation_run"] == {}
    assert gan["model"]["image_size"] == 32 and gan["data"]["type"] == "awa2"
    # the same budget buys the cheaper step of the spec without the GAN more epochs
    assert plain["train"]["epochs"] > gan["train"]["epochs"]
    assert gan["model"]["trunk"] == plain["model"]["trunk"]
    assert plain["objective"]["generator"] == []
    assert [t["type"] for t in plain["objective"]["discriminator"]] == [
        "cosine_real",
        "attribute",
        "cosine_softmax",
    ]
    assert gan["objective"]["generator"] and gan["objective"]["discriminator"][0]["type"] == "lsgan"
    again = runner.invoke(cli, ["init", "data", "--out", "gan.yaml"])
    assert again.exit_code == 2 and "gan.yaml exists" in again.output
    missing = runner.invoke(cli, ["init", "nowhere", "--out", "x.yaml"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_a_step_is_counted_with_every_update_its_objective_makes(tmp_path):
    synthesize(tmp_path, classes=20, unseen=4, images_per_class=2, min_size=20, max_size=24)
    gan, plain = (recommended_spec(tmp_path, "x", 32, gan, epochs=1) for gan in (True, False))
    # the trunk alone, forward and backward (about 3 forward passes) on a batch of real images
    from torch.utils.flop_counter import FlopCounterMode

    from zsk.core.build.composer import compose, load_data
    from zsk.core.recommend.init_spec import validated_spec

    loaded = validated_spec(plain)
    trunk = compose(loaded, load_data(loaded)).gan.discriminator.trunk
    with FlopCounterMode(display=False) as counter:
        trunk(torch.randn(BATCH, 3, 32, 32))
    trunk_step = 3 * counter.get_total_flops()
    plain_flops, gan_flops = step_flops(plain), step_flops(gan)
    assert trunk_step <= plain_flops < 1.5 * trunk_step
    # the GAN's step also makes images, judges them and updates the generator through D
    assert gan_flops > 2.5 * plain_flops
