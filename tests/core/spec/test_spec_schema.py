"""`zsk schema`: the JSON Schema accepts the example specs and refuses broken ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from zsk.core.cli.main import cli

EXAMPLES = Path(__file__).parents[3] / "examples"

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def check(schema: dict, value, root: dict, path: str = "") -> list[str]:
    """The subset of JSON Schema (2020-12) that pydantic emits; returns the violations."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return check(root["$defs"][name], value, root, path)
    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            return [f"{path}: {value!r} is not {names}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    for key, test in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
        ("exclusiveMaximum", lambda v, b: v < b),
    ):
        if key in schema and _is_type(value, "number") and not test(value, schema[key]):
            errors.append(f"{path}: {value} violates {key} {schema[key]}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: too long")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get(
            "maxItems", len(value)
        ):
            errors.append(f"{path}: {len(value)} items")
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(value):
            item_schema = prefix[index] if index < len(prefix) else schema.get("items")
            if isinstance(item_schema, dict):
                errors += check(item_schema, item, root, f"{path}.{index}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors += check(properties[key], item, root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unknown key {key}")
            elif isinstance(extra, dict):
                errors += check(extra, item, root, f"{path}.{key}")
    for part in schema.get("allOf", []):
        errors += check(part, value, root, path)
    if "anyOf" in schema and all(check(s, value, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not check(s, value, root, path)]
        if len(matching) != 1:
            errors.append(f"{path}: matches {len(matching)} of oneOf")
    return errors


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("schema") / "zsk-spec.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


@pytest.mark.parametrize("name", ["shapes", "shapes-hinge", "paper-awa2", "shapes-two-stage"])
def test_schema_accepts_examples(schema, name):
    spec = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    assert check(schema, spec, schema) == []


def test_schema_refuses_unknown_keys_types_and_params(schema):
    spec = yaml.safe_load((EXAMPLES / "shapes.yaml").read_text())
    spec["model"]["trunk"]["params"]["chanels"] = [1]
    spec["model"]["generator"]["type"] = "encoder_decodr"
    spec["train"]["batch_size"] = 0
    spec["objective"]["generator"][0]["params"] = {"lambda_gp": 1.0}  # hinge has no params
    errors = check(schema, spec, schema)
    assert any(e.startswith(".model.trunk: matches 0 of oneOf") for e in errors)
    trunk = schema["$defs"]["TrunkSnConvRef"]
    assert any("unknown key chanels" in e for e in check(trunk, spec["model"]["trunk"], schema))
    assert any(e.startswith(".model.generator: matches 0 of oneOf") for e in errors)
    assert any(e.startswith(".train.batch_size: 0 violates minimum") for e in errors)
    assert any(e.startswith(".objective.generator.0: matches 0 of oneOf") for e in errors)


def test_schema_takes_a_one_stage_or_a_staged_spec_not_both(schema):
    staged = yaml.safe_load((EXAMPLES / "shapes-two-stage.yaml").read_text())
    stage = staged["stages"]["features"]
    (body,) = schema["properties"]["stages"]["patternProperties"].values()
    assert body == {"$ref": "#/$defs/StageSpec"}
    stage_schema = schema["$defs"]["StageSpec"]
    assert check(stage_schema, stage, schema) == []
    stage["features_from"]["layer"] = "pixels"
    assert check(stage_schema, stage, schema) == [".features_from: matches none of anyOf"]
    one = yaml.safe_load((EXAMPLES / "shapes.yaml").read_text())
    assert check(schema, {**one, "stages": staged["stages"]}, schema) == [": matches 2 of oneOf"]
    assert check(schema, {"name": "x"}, schema) == [": matches 0 of oneOf"]


def test_schema_lists_every_registered_component(schema):
    from zsk.registry import get_registry

    trunks = schema["$defs"]["TrunkRef"]["discriminator"]["mapping"]
    assert sorted(trunks) == get_registry().names("trunk")


def test_schema_prints_to_stdout():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "zsk spec"
