"""The JSON Schema of a spec for editors: every component reference a union, by ``type``, of
the registered components' own ``Params`` (``zsk schema``).

Validation does not use it: a spec is validated against :class:`zsk.core.spec.sections.Spec` with
the registry in the validation context (:mod:`zsk.core.spec.refs`), which is what lets a spec name
components of any plugin at any depth and locates each error by its path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, create_model

from zsk.core.spec.sections import Spec, Term
from zsk.core.spec.stages import StagedSpec
from zsk.registry import ComponentRegistry

#: Definitions in the spec's JSON schema that stand for "a component of this kind".
_REF_DEFINITIONS: dict[str, str] = {
    "DatasetRef": "dataset",
    "GeneratorRef": "generator",
    "TrunkRef": "trunk",
    "HeadRef": "head",
    "SemanticEncoderRef": "semantic_encoder",
    "Term": "loss",
    "LossRef": "loss",
    "NormalizerRef": "normalizer",
    "AttentionRef": "attention",
}


def _component_models(registry: ComponentRegistry, kind: str, *, term: bool) -> list[type]:
    """One model per registered component: ``type`` fixed to its name, its own ``params``."""
    models = []
    for entry in registry.list(kind):
        fields: dict[str, Any] = {
            "type": (Literal[entry.name], Field(description=entry.description)),  # type: ignore[valid-type]
            "params": (entry.cls.Params, Field(default_factory=entry.cls.Params)),
        }
        if term:
            for name in ("weight", "label"):
                fields[name] = (Term.model_fields[name].annotation, Term.model_fields[name])
        title = "".join(part.title() for part in f"{kind}_{entry.name}".split("_"))
        title += "Term" if term else "Ref"
        models.append(
            create_model(
                title,
                __config__=ConfigDict(extra="forbid", title=f"{kind} '{entry.name}'"),
                __doc__=entry.description,
                **fields,
            )
        )
    return models


def json_schema(registry: ComponentRegistry) -> dict[str, Any]:
    """The JSON Schema of a spec, every component reference a union by ``type`` of the
    registered components' params, so editors autocomplete and check specs.

    ``name`` is optional here: the loader names a spec after its file. One schema serves both
    shapes of a spec: a one-stage spec (``data``, ``model``, ``objective``, ...) or a staged one
    (``stages``, :mod:`zsk.core.spec.stages`), exactly one of them.
    """
    unions: dict[str, Any] = {}
    for definition, kind in _REF_DEFINITIONS.items():
        models = _component_models(registry, kind, term=definition == "Term")
        if len(models) > 1:
            unions[definition] = Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007
        elif models:
            unions[definition] = models[0]
    bundle = create_model(
        "ZskSchemaBundle",
        spec=(Spec, ...),
        staged=(StagedSpec, ...),
        **{definition: (union, ...) for definition, union in unions.items()},
    )
    schema = bundle.model_json_schema(ref_template="#/$defs/{model}")
    definitions = schema["$defs"]
    for definition in unions:
        if definition in definitions:
            union = dict(schema["properties"][definition])
            union.pop("title", None)
            union["description"] = f"a {_REF_DEFINITIONS[definition]}, chosen by `type`"
            definitions[definition] = union
    root = definitions.pop("Spec")
    staged = definitions.pop("StagedSpec")
    one_stage = [name for name in root.pop("required", []) if name != "name"]
    root["properties"]["stages"] = staged["properties"]["stages"]
    root["oneOf"] = [
        {"title": "a one-stage spec", "required": one_stage},
        {"title": "a staged spec", "required": ["stages"]},
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **root,
        "title": "zsk spec",
        "$defs": definitions,
    }
