"""References to components in specs and in component params: ``{type: NAME, params: {...}}``.

A reference of a given kind (``NormalizerRef``, ``AttentionRef``, ... or :func:`ref_of`) is
resolved when it is validated with the registry in the validation context
(``model_validate(data, context={"registry": registry})``, as the spec loader does): the name
must exist, and ``params`` are validated once, by that component's own ``Params`` model, into
the typed instance that :meth:`ComponentRef.build` hands to the component. The references inside
those params are resolved in the same pass (one a default factory made too), and each remembers
the registry, so a component builds its nested parts from the registry the spec was validated
with. A reference made in code, outside such a validation, is resolved when it is built.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zsk.registry import ComponentRegistry, UserError, get_registry
from zsk.registry.components import Component


class _Registry:
    """The registry a reference was resolved with: copies of the reference share it, and two
    references resolved with the same registry are equal if their fields are."""

    def __init__(self, registry: ComponentRegistry):
        self.registry = registry

    def __deepcopy__(self, memo: dict[int, Any]) -> _Registry:
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Registry) and other.registry is self.registry

    def __hash__(self) -> int:
        return id(self.registry)


class ComponentRef(BaseModel):
    """A component named by ``type`` with its ``params``."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = ""

    type: str = Field(description="the registered name of the component")
    #: a mapping until resolved, then the component's ``Params`` (the schema shows a mapping)
    params: Annotated[
        dict[str, Any] | SerializeAsAny[BaseModel],
        WithJsonSchema({"type": "object", "additionalProperties": True}),
    ] = Field(
        default_factory=dict,
        validate_default=True,  # an omitted params block is checked (and the type looked up) too
        description="the component's parameters",
    )
    _resolved_with: _Registry | None = PrivateAttr(default=None)

    @field_validator("params", mode="after")
    @classmethod
    def _params_fit_component(cls, params: Any, info: ValidationInfo) -> Any:
        registry = (info.context or {}).get("registry")
        name = info.data.get("type")
        if registry is None or not cls.kind or name is None:
            return params
        try:
            component = registry.component(cls.kind, name)
        except UserError as exc:
            raise PydanticCustomError(
                "unknown_component", "{message}", {"message": exc.render()}
            ) from None
        return typed_params(component, params, registry)

    @model_validator(mode="after")
    def _remember_registry(self, info: ValidationInfo) -> ComponentRef:
        registry = (info.context or {}).get("registry")
        if registry is not None and self.kind:
            self._resolved_with = _Registry(registry)
        return self

    @property
    def registry(self) -> ComponentRegistry | None:
        """The registry this reference was resolved with, or None if it was not."""
        return self._resolved_with.registry if self._resolved_with else None

    def resolve(self, registry: ComponentRegistry | None = None) -> ComponentRef:
        """This reference resolved (its params typed, its nested references too); ``self`` if
        it already is. ``registry`` is used for a reference not resolved yet (default: the
        process's registry)."""
        if self._resolved_with is not None:
            return self
        registry = registry or get_registry()
        registry.component(self.kind, self.type)  # an unknown name: did-you-mean and the list
        data = dict(self)  # every field: a loss term's weight and label too
        try:
            return type(self).model_validate(data, context={"registry": registry})
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise UserError(f"{self.kind} '{self.type}': invalid params: {details}") from None

    def build(self, *args: Any, registry: ComponentRegistry | None = None) -> Any:
        """Instantiate the component: ``cls(params, *args)`` (see
        :mod:`zsk.core.components.interfaces`), from the registry this reference was resolved
        with."""
        ref = self.resolve(registry)
        return ref.registry.component(ref.kind, ref.type)(ref.params, *args)


def typed_params(
    component: type[Component], params: Any = None, registry: ComponentRegistry | None = None
) -> Any:
    """``params`` (a mapping, an instance, or None for the defaults) as ``component``'s
    ``Params`` instance, with every reference in it resolved with ``registry`` (default: the
    process's registry). The one way params are validated, in specs and in contract checks."""
    registry = registry or get_registry()
    if params is None:
        params = {}
    if isinstance(params, component.Params):
        typed = params
    else:
        if isinstance(params, BaseModel):
            params = params.model_dump()
        typed = component.Params.model_validate(params, context={"registry": registry})
    _resolve_nested(typed, registry)
    return typed


def _resolve_nested(value: Any, registry: ComponentRegistry) -> None:
    """Resolve, in place, the references a default factory made inside validated params (they
    were made without the registry); the ones given in the data are resolved already."""
    if isinstance(value, ComponentRef):
        if value._resolved_with is None:
            resolved = value.resolve(registry)
            value.params, value._resolved_with = resolved.params, resolved._resolved_with
        return
    if isinstance(value, BaseModel):
        items: Any = (getattr(value, name) for name in type(value).model_fields)
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return
    for item in items:
        _resolve_nested(item, registry)


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
