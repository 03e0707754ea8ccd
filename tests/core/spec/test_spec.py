"""Reading specs: defaults filled, overrides, every mistake as `file:line:col  path  message`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.core.spec.minimal_spec import MINIMAL, write
from zsk.core.spec.loading import apply_override, load_spec, load_spec_document, validate_spec
from zsk.core.spec.sections import Spec, SpecError
from zsk.registry import UserError, get_registry

EXAMPLES = Path(__file__).parents[3] / "examples"


def mark_of(text: str, needle: str, occurrence: int = 0) -> str:
    """`line:col` (1-based) of the start of ``needle`` in ``text``, computed independently."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{col}"


def error_of(tmp_path: Path, text: str, overrides=()) -> str:
    path = write(tmp_path, text)
    with pytest.raises(UserError) as caught:
        load_spec(path, overrides)
    return caught.value.render()


def test_minimal_spec_is_named_after_its_file_and_defaults_are_filled(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL, "tiny-run.yaml"))
    assert spec.name == "tiny-run"
    trunk = get_registry().component("trunk", spec.model.trunk.type)
    assert isinstance(spec.model.trunk.params, trunk.Params)  # typed once, as build() gets them
    assert spec.model.trunk.params.channels == [8, 16]
    spectral = get_registry().component("normalizer", "spectral").Params().model_dump()
    # a default made by a default factory, nested in params, is resolved too
    weight_norm = spec.model.trunk.params.weight_norm
    assert weight_norm.model_dump() == {"type": "spectral", "params": spectral}
    attention = spec.model.trunk.params.attention
    assert attention.params.weight_norm.model_dump() == {"type": "spectral", "params": spectral}
    assert spec.train.optimizers.generator.lr == 5e-5
    assert spec.objective.discriminator[1].params.lambda_other == 0.5


@pytest.mark.parametrize("name", ["shapes", "shapes-hinge", "paper-awa2"])
def test_examples_load(name):
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    assert spec.name == name
    assert isinstance(spec, Spec)


def test_hinge_example_differs_from_shapes_in_one_line_the_adversarial_loss():
    shapes = (EXAMPLES / "shapes.yaml").read_text().splitlines()
    hinge = (EXAMPLES / "shapes-hinge.yaml").read_text().splitlines()
    assert len(shapes) == len(hinge)
    changed = [(a, b) for a, b in zip(shapes, hinge, strict=True) if a != b]
    assert len(changed) == 1 and "lsgan" in changed[0][0] and "hinge" in changed[0][1]
    lsgan, hinge_spec = (
        load_spec(EXAMPLES / "shapes.yaml"),
        load_spec(EXAMPLES / "shapes-hinge.yaml"),
    )
    assert [t.type for t in hinge_spec.objective.generator][0] == "hinge"
    assert [t.type for t in hinge_spec.objective.discriminator][0] == "hinge"
    assert lsgan.model == hinge_spec.model


def test_overrides_are_yaml_and_validated(tmp_path):
    path = write(tmp_path, MINIMAL)
    spec = load_spec(
        path,
        [
            "model.trunk.params.channels=[4, 8]",
            "train.batch_size=8",
            "objective.generator.0.weight=0.5",
            "train.label_smoothing={real: [0.8, 1.0]}",
        ],
    )
    assert spec.model.trunk.params.channels == [4, 8]
    assert spec.train.batch_size == 8
    assert spec.objective.generator[0].weight == 0.5
    assert spec.train.label_smoothing.real == (0.8, 1.0)
    assert spec.train.label_smoothing.fake == (0.0, 0.25)


def test_override_errors_are_located_at_the_override(tmp_path):
    message = error_of(tmp_path, MINIMAL, ["train.batch_size=zero"])
    assert message.startswith("--set train.batch_size=zero  train.batch_size  Input should be")
    message = error_of(tmp_path, MINIMAL, ["train.batch_size"])
    assert "an override is dotted.path=value" in message
    message = error_of(tmp_path, MINIMAL, ["objective.generator.3.weight=1"])
    assert "objective.generator is a list of 1; '3' is not an index of it" in message
    message = error_of(tmp_path, MINIMAL, ["model.image_size.x=1"])
    assert "model.image_size is 32, not a mapping" in message


def test_a_component_params_rule_is_reported_at_its_params(tmp_path):
    message = error_of(tmp_path, MINIMAL, ["model.generator.params={source_dropout: 0.5}"])
    assert message.startswith(
        "--set model.generator.params={source_dropout: 0.5}  model.generator.params  "
        "source_dropout needs noise: true"
    )


def test_unknown_component_type_says_did_you_mean_at_its_line(tmp_path):
    text = MINIMAL.replace("type: encoder_decoder", "type: encoder_decodr")
    message = error_of(tmp_path, text)
    where = mark_of(text, "encoder_decodr")
    assert message.startswith(
        f"{tmp_path / 'spec.yaml'}:{where}  model.generator.type  unknown generator "
        "'encoder_decodr'. Did you mean 'encoder_decoder'?"
    )
    assert "available generators: encoder_decoder, feature_mlp, noise_decoder" in message


#: A mistake in a spec -> (edit of MINIMAL: (old, new), or (None, appended text); the text its
#: location points at and which occurrence of it, -1 for the last; the path and message that
#: follow the location; more of the message).
LOCATED_MISTAKES = {
    "unknown param key": (
        ("      channels: [8, 16]", "      chanels: [8, 16]"),
        ("chanels", 0),
        "model.trunk.params.chanels  unknown key ",
        "Did you mean 'channels'?",
    ),
    "unknown top-level key": (
        (None, "trian: {}\n"),
        ("trian", 0),
        "trian  unknown key 'trian'. Did you mean 'train'?",
        "",
    ),
    "value out of range": (
        ("batch_size: 16", "batch_size: 0"),
        ("0", -1),
        "train.batch_size  ",
        "greater than or equal to 1 (got 0)",
    ),
    "missing required key": (
        ("  semantic_encoder: {type: mlp}\n", ""),
        ("image_size", 0),
        "model.semantic_encoder  required key ",
        "",
    ),
    "duplicate key": (
        (None, "train: {seed: 1}\n"),
        ("train:", 1),
        "train  duplicate key 'train' (first given on line",
        "",
    ),
    "head under another role's key": (
        ("embedding: {type: embedding}", "embedding: {type: attribute}"),
        ("attribute}", 0),
        "model.heads.embedding.type  head 'attribute' ",
        "must sit under model.heads.attribute",
    ),
    "loss needing a missing head": (
        ("generator: [{type: lsgan}]", "generator: [{type: l1_reconstruction}]"),
        ("l1_reconstruction", 0),
        "objective.generator.0.type  loss ",
        "model.heads has no 'reconstruction_feature'",
    ),
}


@pytest.mark.parametrize(
    ("edit", "mark", "located", "said"), LOCATED_MISTAKES.values(), ids=list(LOCATED_MISTAKES)
)
def test_a_mistake_is_reported_at_its_line_and_column(tmp_path, edit, mark, located, said):
    old, new = edit
    text = MINIMAL + new if old is None else MINIMAL.replace(old, new)
    assert text != MINIMAL
    needle, occurrence = mark
    where = mark_of(text, needle, text.count(needle) - 1 if occurrence < 0 else occurrence)
    message = error_of(tmp_path, text)
    assert f"spec.yaml:{where}  {located}" in message
    assert said in message


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    text = MINIMAL.replace("image_size: 32", "image_size: big").replace(
        "batch_size: 16", "batch_size: -1"
    )
    lines = error_of(tmp_path, text).splitlines()
    assert [line.split("  ")[1] for line in lines] == ["model.image_size", "train.batch_size"]
    assert all(re.match(r"^\S+:\d+:\d+  \S+  \S", line) for line in lines)


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    text = MINIMAL.replace("  image_size: 32", "  image_size: [32")
    message = error_of(tmp_path, text)
    assert re.match(
        rf"^{re.escape(str(tmp_path / 'spec.yaml'))}:\d+:\d+  \(yaml\)  YAML syntax", message
    )


def test_not_a_mapping_missing_file_and_directory(tmp_path):
    assert "a spec is a YAML mapping" in error_of(tmp_path, "- just\n- a list\n")
    with pytest.raises(UserError, match="no spec file"):
        load_spec(tmp_path / "absent.yaml")
    with pytest.raises(UserError, match="is a directory"):
        load_spec(tmp_path)


def test_document_locates_paths_for_later_problems(tmp_path):
    document = load_spec_document(write(tmp_path, MINIMAL), ["train.seed=5"])
    assert document.locate(("model", "heads", "embedding")) == (
        f"{tmp_path / 'spec.yaml'}:{mark_of(MINIMAL, '{type: embedding}')}"
    )
    assert document.locate(("train", "seed")) == "--set train.seed=5"
    error = SpecError([]).located(document.locate)
    assert isinstance(error, UserError)


def test_apply_override_creates_missing_mappings():
    data = {"train": None}
    assert apply_override(data, "train.ema.decay=0.99") == (("train", "ema", "decay"), "0.99")
    assert data == {"train": {"ema": {"decay": 0.99}}}


def test_unknown_type_without_params_is_found_even_beside_other_problems(tmp_path):
    text = MINIMAL.replace(
        "generator: {type: encoder_decoder}", "generator: {type: encoder_decodr}"
    )
    message = error_of(tmp_path, text.replace("train:\n  batch_size: 16\n", "train: {bogus: 1}\n"))
    assert "spec.yaml:4:21  model.generator.type  unknown generator 'encoder_decodr'." in message
    assert "Did you mean 'encoder_decoder'?" in message
    assert "train.bogus" in message


def test_a_spec_given_as_a_mapping_is_validated_as_its_file_would_be(tmp_path):
    data = {"name": "minimal", **yaml.safe_load(MINIMAL)}
    before = yaml.safe_dump(data)
    assert validate_spec(data) == load_spec(write(tmp_path, MINIMAL, "minimal.yaml"))
    assert yaml.safe_dump(data) == before  # defaults are filled in a copy
    data["train"]["batch_size"] = "many"
    with pytest.raises(SpecError) as caught:
        validate_spec(data, source="the recommended spec")
    assert ("train", "batch_size") in [p.path for p in caught.value.problems]
    assert "the recommended spec" in str(caught.value)
