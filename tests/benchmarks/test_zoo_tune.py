"""The settings study of the recommended spec: each variant edits zsk init's spec as named."""

from __future__ import annotations

import copy

import pytest
import yaml
from click.testing import CliRunner

from benchmarks.studies.results import put
from benchmarks.studies.zoo.tune import KEY, RECOGNISER_VARIANTS, VARIANTS, table, variant_spec
from zsk.core.cli.main import cli
from zsk.core.data.synth import synthesize


def _init(root, route: str) -> dict:
    made = CliRunner().invoke(
        cli, ["init", str(root / "data"), "--out", str(root / f"{route}.yaml"), "--route", route]
    )
    assert made.exit_code == 0, made.output
    return yaml.safe_load((root / f"{route}.yaml").read_text())


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    synthesize(root / "data", classes=20, unseen=4, images_per_class=3, min_size=20, max_size=24)
    return root


@pytest.fixture(scope="module")
def spec(data_root) -> dict:
    return _init(data_root, "image-gan")


@pytest.fixture(scope="module")
def recogniser(data_root) -> dict:
    return _init(data_root, "no-gan")


def _types(terms: list[dict]) -> list[str]:
    return [term["type"] for term in terms]


def test_every_variant_is_a_validation_run_of_the_same_length(spec):
    for label in VARIANTS:
        edited = variant_spec(spec, label)
        assert "validation_run" not in edited and edited["holdout"] == spec["validation_run"]
        assert edited["train"]["epochs"] == spec["train"]["epochs"]
    assert "holdout" not in spec  # the spec itself is left as it was


def test_variants_edit_what_their_names_say(spec):
    default = variant_spec(spec, "default")
    assert "cosine_softmax" in _types(default["objective"]["discriminator"])
    plain_cosine = variant_spec(spec, "no cosine_softmax, attention and dropout")
    assert "cosine_softmax" not in _types(plain_cosine["objective"]["discriminator"])
    assert plain_cosine["model"]["trunk"]["params"] == {"channels": [32, 64, 128]}
    no_gan = variant_spec(spec, "no GAN")
    assert no_gan["objective"]["generator"] == []
    assert _types(no_gan["objective"]["discriminator"]) == [
        t for t in _types(default["objective"]["discriminator"]) if t != "lsgan"
    ]
    adam = variant_spec(spec, "no cosine_softmax, attention and dropout, D Adam 1e-3, BN trunk")
    assert adam["train"]["optimizers"]["discriminator"] == {"lr": 1e-3, "betas": [0.9, 0.999]}
    assert adam["model"]["trunk"]["params"]["feature_norm"] == {"type": "batch"}
    assert "params" not in adam["model"]["heads"]["real_fake"]  # keeps its spectral norm
    assert variant_spec(spec, "projection head")["model"]["heads"]["real_fake"] == {
        "type": "projection"
    }
    plain = variant_spec(spec, "no GAN, trunk without instance norm")
    assert plain["model"]["trunk"]["params"]["feature_norm"] == {"type": "none"}
    assert plain["objective"]["generator"] == []


def test_recogniser_variants_drop_the_terms_and_heads_their_names_say(recogniser):
    for label in RECOGNISER_VARIANTS:
        assert variant_spec(recogniser, label)["holdout"] == recogniser["validation_run"]
    default = variant_spec(recogniser, "recogniser")
    assert _types(default["objective"]["discriminator"]) == [
        "cosine_real",
        "attribute",
        "cosine_softmax",
    ]
    plain = variant_spec(recogniser, "recogniser with the hand-written learner's terms")
    assert _types(plain["objective"]["discriminator"]) == ["cosine_real", "cosine_softmax"]
    assert plain["objective"]["discriminator"][0]["params"]["lambda_softmax"] == 0.0
    assert set(plain["model"]["heads"]) == {"embedding"}
    assert plain["model"]["heads"]["embedding"]["params"]["classifier"] is False
    no_attribute = variant_spec(recogniser, "recogniser without the attribute term")
    assert set(no_attribute["model"]["heads"]) == {"embedding"}
    assert no_attribute["objective"]["discriminator"][0] == default["objective"]["discriminator"][0]


@pytest.mark.parametrize(
    ("label", "held_for"),
    [
        ("recogniser, learning rate decayed linearly to 0", 0.0),
        ("recogniser, learning rate held for half the run, then decayed to 0", 0.5),
    ],
)
def test_decay_variants_reach_zero_learning_rate_at_the_runs_end(recogniser, label, held_for):
    from zsk.core.spec.sections import ScheduleSpec
    from zsk.core.train.optim import lr_factor

    spec = copy.deepcopy(recogniser)
    epochs = spec["train"]["epochs"] = 6  # the fixture's own budget buys a single epoch
    edited = variant_spec(spec, label)
    assert edited["train"]["epochs"] == epochs
    schedule, per_epoch = ScheduleSpec.model_validate(edited["train"]["schedule"]), 10
    steps = epochs * per_epoch
    held = int(epochs * held_for) * per_epoch
    for step in range(steps):
        expected = 1.0 if step < held else 1 - (step - held) / (steps - held)
        assert lr_factor(schedule, step, per_epoch) == pytest.approx(expected)
    assert lr_factor(schedule, steps, per_epoch) == 0.0


def test_the_constant_rate_variant_holds_the_learning_rate_to_the_end(recogniser):
    from zsk.core.spec.sections import ScheduleSpec
    from zsk.core.train.optim import lr_factor

    assert recogniser["train"]["schedule"]["type"] == "constant_then_linear"  # zsk init's decay
    edited = variant_spec(recogniser, "recogniser, constant learning rate")
    schedule, steps = ScheduleSpec.model_validate(edited["train"]["schedule"]), 10
    assert all(lr_factor(schedule, step, 1) == 1.0 for step in range(steps * 2))


def test_shift_variants_set_the_share_their_names_say(recogniser):
    assert recogniser["train"]["translate"] == 1 / 8  # zsk init's recogniser shifts its images
    for label, share in (
        ("recogniser, images not shifted", 0.0),
        ("recogniser, images shifted by up to 1/16 of their side", 1 / 16),
        ("recogniser, images shifted by up to 1/8 of their side", 1 / 8),
    ):
        edited = variant_spec(recogniser, label)
        assert edited["train"] == {**recogniser["train"], "translate": share}


def test_table_lists_measured_variants_by_set_and_budget(tmp_path):
    results = tmp_path / "results.jsonl"
    measured = (("default", 0.75, 0.125), ("trunk without instance norm", 0.625, None))
    for label, zsl, imagined in (*measured, ("no GAN", 0.5, 0.125)):
        record = {"set": "glyphs", "variant": label, "cpu_minutes": 0.4, "seed": 0,
                  "held_out_zsl": zsl, "validation_h": 0.25, "imagined": imagined}  # fmt: skip
        put(results, record, KEY)
    lines = table(results).splitlines()
    assert lines[0] == "| variant | glyphs 0.4 min |"
    # an untrained generator's images, and a run measured --recognition-only, are not judged
    assert lines[2:] == [
        "| default | 0.750 (n=1) / 0.250 (n=1) / 0.125 (n=1) |",
        "| trunk without instance norm | 0.625 (n=1) / 0.250 (n=1) / — |",
        "| no GAN | 0.500 (n=1) / 0.250 (n=1) / — |",
    ]


def test_table_averages_a_variant_over_its_seeds(tmp_path):
    results = tmp_path / "results.jsonl"
    zsl, h = [0.5, 0.625, 0.875], [0.25, 0.5, 0.75]
    for seed in range(3):
        record = {"set": "textures", "variant": "recogniser", "cpu_minutes": 0.4, "seed": seed,
                  "held_out_zsl": zsl[seed], "validation_h": h[seed], "imagined": None}  # fmt: skip
        put(results, record, KEY)
    mean_zsl, mean_h = sum(zsl) / 3, sum(h) / 3
    std_zsl = (sum((v - mean_zsl) ** 2 for v in zsl) / 2) ** 0.5
    std_h = (sum((v - mean_h) ** 2 for v in h) / 2) ** 0.5
    assert table(results).splitlines()[2] == (
        f"| recogniser | {mean_zsl:.3f} ± {std_zsl:.3f} / {mean_h:.3f} ± {std_h:.3f} / — |"
    )
