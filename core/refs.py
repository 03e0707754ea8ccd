"""References to components in specs and in component params: ``{type: NAME, params: {...}}``.

A reference of a given kind (``NormalizerRef``, ``AttentionRef``, ... or :func:`ref_of`) is
checked against the registry when it is validated with the registry in the validation context
(``model_validate(data, context={"registry": registry})``, as the spec loader does): the name
must exist and ``params`` must satisfy that component's own ``Params`` model, so unknown keys
are refused and every default is filled. Outside such a validation (e.g. a default value written
in a plugin's ``Params``) nothing is looked up until :meth:`ComponentRef.build`.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from zsk.registry import ComponentRegistry, UserError, get_registry
from zsk.registry.components import Component


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validate_params(
    registry: ComponentRegistry, kind: str, name: str, params: dict[str, Any]
) -> Component.Params:
    """``params`` validated by the ``Params`` model of the component ``kind``/``name``.

    A reference made by a default factory inside ``Params`` (e.g. a trunk's default
    ``weight_norm``) is built without the registry, so its params stay empty; validating the
    dump again fills them, one level of nesting per pass, until nothing changes.
    """
    cls = registry.component(kind, name)
    context = {"registry": registry}
    validated = cls.Params.model_validate(params, context=context)
    for _ in range(_MAX_NESTING):
        dumped = validated.model_dump(mode="json")
        again = cls.Params.model_validate(dumped, context=context)
        if again.model_dump(mode="json") == dumped:
            return again
        validated = again
    return validated


#: Deepest nesting of component references inside params that defaults are filled for.
_MAX_NESTING = 8


class ComponentRef(BaseModel):
    """A component named by ``type`` with its ``params``."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = ""

    type: str = Field(description="the registered name of the component")
    params: dict[str, Any] = Field(
        default_factory=dict,
        validate_default=True,  # an omitted params block is checked (and the type looked up) too
        description="the component's parameters",
    )

    @field_validator("params", mode="after")
    @classmethod
    def _params_fit_component(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        registry = (info.context or {}).get("registry")
        name = info.data.get("type")
        if registry is None or not cls.kind or name is None:
            return params
        try:
            validated = validate_params(registry, cls.kind, name, params)
        except UserError as exc:
            raise PydanticCustomError(
                "unknown_component", "{message}", {"message": exc.render(), "sub_loc": ()}
            ) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            details = "; ".join(
                f"{_format_loc(err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
                for err in exc.errors()
            )
            raise PydanticCustomError(
                "component_params",
                "{message}",
                {"message": f"{cls.kind} '{name}': {details}", "sub_loc": tuple(first["loc"])},
            ) from None
        return validated.model_dump(mode="json")

    def resolved_params(self, registry: ComponentRegistry | None = None) -> Component.Params:
        """This reference's params as the component's validated ``Params`` instance."""
        try:
            return validate_params(registry or get_registry(), self.kind, self.type, self.params)
        except ValidationError as exc:
            details = "; ".join(f"{_format_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
            raise UserError(f"{self.kind} '{self.type}': invalid params: {details}") from None

    def build(self, *args: Any, registry: ComponentRegistry | None = None) -> Any:
        """Instantiate the component: ``cls(params, *args)`` (see :mod:`zsk.core.interfaces`)."""
        registry = registry or get_registry()
        cls = registry.component(self.kind, self.type)
        return cls(self.resolved_params(registry), *args)


@functools.cache
def ref_of(kind: str) -> type[ComponentRef]:
    """The reference type for components of ``kind`` (one class per kind)."""
    title = "".join(part.title() for part in kind.split("_")) + "Ref"
    return type(title, (ComponentRef,), {"kind": kind, "__doc__": f"A reference to a {kind}."})


NormalizerRef = ref_of("normalizer")
AttentionRef = ref_of("attention")
GeneratorRef = ref_of("generator")
TrunkRef = ref_of("trunk")
HeadRef = ref_of("head")
SemanticEncoderRef = ref_of("semantic_encoder")
LossRef = ref_of("loss")
DatasetRef = ref_of("dataset")
MetricRef = ref_of("metric")
