"""Staged specs: the example reads as stages in order, every mistake between stages is reported at
its line in the file with the fix, one-stage specs read as before, and the schema has both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zsk.core.spec.loading import SpecDocument, StagedDocument, load_spec_document, read_spec
from zsk.core.spec.sections import SpecError
from zsk.core.spec.stages import StagedSpec

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture
def example() -> dict:
    return yaml.safe_load((EXAMPLES / "shapes-two-stage.yaml").read_text())


def _write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "staged.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _line_of(path: Path, text: str) -> int:
    """1-based line of the first line of ``path`` that holds ``text``."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _problem(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(SpecError) as caught:
        read_spec(path, overrides)
    return caught.value.render()


def test_the_example_is_a_recogniser_then_a_gan_of_its_embeddings():
    document = read_spec(EXAMPLES / "shapes-two-stage.yaml")
    assert isinstance(document, StagedDocument)
    spec = document.spec
    assert spec.name == "shapes-two-stage" and list(spec.stages) == ["recogniser", "features"]
    recogniser, features = spec.stages["recogniser"], spec.stages["features"]
    assert recogniser.data is not None and recogniser.data.type == "awa2"
    assert recogniser.objective.generator, "the demo's recogniser trains a generator too"
    assert features.data is None and features.features_from is not None
    assert (features.features_from.stage, features.features_from.layer) == (
        "recogniser",
        "embedding",
    )
    assert spec.validation_run is not None


def test_a_stage_as_a_spec_keeps_its_body_and_the_shared_validation_run(example, tmp_path):
    staged = read_spec(_write(tmp_path, example)).spec
    assert isinstance(staged, StagedSpec)
    recogniser = staged.stages["recogniser"]
    one = staged.stage_spec("recogniser", recogniser.data)
    assert one.name == "staged.recogniser"
    assert one.model == recogniser.model and one.train == recogniser.train
    assert one.validation_run == staged.validation_run and one.holdout is None


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (
            {"stage": "recogniserr"},
            "stage: recogniserr",
            [
                "no stage named 'recogniserr'. Did you mean 'recogniser'?",
                "stages: recogniser, features",
            ],
        ),
        ({"stage": "features"}, "stage: features", ["cannot read its own features"]),
    ],
)
def test_a_stage_naming_an_unknown_stage_or_itself_is_located(
    example, tmp_path, change, where, says
):
    example["stages"]["features"]["features_from"].update(change)
    path = _write(tmp_path, example)
    message = _problem(path)
    assert message.startswith(f"{path}:{_line_of(path, where)}:")
    assert "stages.features.features_from.stage" in message
    for text in says:
        assert text in message


def test_a_cycle_and_a_feature_stage_first_are_refused(example, tmp_path):
    stages = example["stages"]
    source = stages["recogniser"].pop("data")
    stages["recogniser"]["features_from"] = {"stage": "features", "layer": "trunk"}
    stages["features"]["features_from"] = {"stage": "recogniser", "layer": "trunk"}
    message = _problem(_write(tmp_path, example))
    assert "stages.recogniser.features_from.stage" in message
    assert "a cycle: 'features' reads the features of 'recogniser' too" in message
    assert "the first stage must read images (data:)" in message

    stages["features"] = {**stages["features"], "features_from": None, "data": source}
    message = _problem(_write(tmp_path, example))
    assert "'features' trains after 'recogniser' (stages train in the order written)" in message


def test_a_layer_the_source_cannot_give_is_located_at_the_layer(example, tmp_path):
    heads = example["stages"]["recogniser"]["model"]["heads"]
    del heads["embedding"]
    example["stages"]["recogniser"]["objective"]["discriminator"].pop(1)  # cosine_real needs it
    example["stages"]["recogniser"]["objective"]["generator"].pop(1)  # so does cosine_generator
    path = _write(tmp_path, example)
    message = _problem(path)
    assert message.startswith(f"{path}:{_line_of(path, 'layer: embedding')}:")
    assert "stages.features.features_from.layer" in message
    assert "'recogniser' has no embedding head" in message and "layer: trunk" in message
    assert isinstance(
        read_spec(path, ["stages.features.features_from.layer=trunk"]), StagedDocument
    )


def test_a_stage_needs_exactly_one_source_and_a_known_key(example, tmp_path):
    path = _write(tmp_path, example)
    both = _problem(path, ("stages.features.data={type: awa2}",))
    assert "stages.features  a stage reads either a data set (data:)" in both
    typo = _problem(path, ("stages.features.modle=1",))
    assert "--set stages.features.modle=1  stages.features.modle  unknown key 'modle'" in typo
    assert "Did you mean 'model'?" in typo
    stage_problem = _problem(path, ("stages.features.objective.generator.1.type=attribute",))
    assert "stages.features.objective.generator.1.type" in stage_problem  # a stage's own check
    assert "reads the attribute head" in stage_problem


def test_one_stage_specs_read_as_before_and_a_staged_one_is_refused_where_one_run_is_needed(
    tmp_path,
):
    document = read_spec(EXAMPLES / "shapes.yaml")
    assert isinstance(document, SpecDocument)
    assert document.spec == load_spec_document(EXAMPLES / "shapes.yaml").spec
    with pytest.raises(Exception) as caught:
        load_spec_document(EXAMPLES / "shapes-two-stage.yaml")
    message = caught.value.render()
    assert "is a staged spec (stages: recogniser, features)" in message
    assert (
        f"shapes-two-stage.yaml:{_line_of(EXAMPLES / 'shapes-two-stage.yaml', 'stages:')}:"
        in message
    )
