"""References to components in specs and in component params: ``{type: NAME, params: {...}}``.

A reference of a given kind (``NormalizerRef``, ``AttentionRef``, ..., one class per kind) is
resolved when it is validated with the registry in the validation context
(``model_validate(data, context={"registry": registry})``, as the spec loader does): the name
must exist, and ``params`` are validated once, by that component's own ``Params`` model, into
the typed instance that each kind's reference hands to the component when it builds it:
``TrunkRef.build(dims=...) -> Trunk``, ``HeadRef.build(dims=..., in_shape=...) -> Head`` and so
on, keyword-only, so that a type checker checks a plugin's calls. The references inside
those params are resolved in the same pass (one a default factory made too), and each remembers
the registry, so a component builds its nested parts from the registry the spec was validated
with. A reference made in code, outside such a validation, is resolved when it is built.
"""

from __future__ import annotations

from importlib import metadata
from typing import Annotated, Any, ClassVar, TypeVar

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

from zsk.core.components.dims import Dims
from zsk.core.components.interfaces import (
    Attention,
    Dataset,
    Generator,
    Head,
    Loss,
    Metric,
    Normalizer,
    SemanticEncoder,
    Trunk,
)
from zsk.registry import ComponentRegistry, UserError, get_registry
from zsk.registry.components import Component

ComponentT = TypeVar("ComponentT", bound=Component)


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
            recorded = (info.context or {}).get("recorded", {}).get(name)
            note = uninstalled_note(cls.kind, name, recorded) if recorded else None
            message = f"{note}\n  {exc.render()}" if note else exc.render()
            raise PydanticCustomError(
                "unknown_component", "{message}", {"message": message}
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

    def _construct(
        self, base: type[ComponentT], registry: ComponentRegistry | None, **inputs: Any
    ) -> ComponentT:
        """The component built as ``cls(params, **inputs)`` from the registry this reference
        was resolved with, refused unless it is an instance of its kind's ``base``."""
        ref = self.resolve(registry)
        cls = (ref.registry or get_registry()).component(ref.kind, ref.type)
        built = cls(ref.params, **inputs)
        if not isinstance(built, base):
            raise UserError(
                f"{ref.kind} '{ref.type}' built a {type(built).__name__}, not a {base.__name__}",
                hint=f"subclass {base.__name__} from zsk.api and register that class",
            )
        return built


def recorded_components(lock: Any) -> dict[str, dict[str, str]]:
    """A lock section's record of where each component came from, by component name (what
    names an uninstalled package when a spec names a component that is gone)."""
    rows = lock.get("components") if isinstance(lock, dict) else None
    if not isinstance(rows, dict):
        return {}
    return {
        row["type"]: {key: str(row.get(key, "")) for key in ("distribution", "version", "plugin")}
        for row in rows.values()
        if isinstance(row, dict) and isinstance(row.get("type"), str)
    }


def uninstalled_note(kind: str, name: str, recorded: dict[str, str]) -> str | None:
    """What to install for a component a run was built with (``recorded``: its lock's
    ``distribution``, ``version`` and ``plugin``) when that distribution is gone or is another
    version now; None when the same version is installed (its failure notes say more)."""
    distribution, version = recorded.get("distribution", ""), recorded.get("version", "")
    if not distribution or not version:
        return None
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        now = "which is not installed"
    else:
        if installed == version:
            return None
        now = f"and {distribution} {installed} is installed now, which does not provide it"
    return (
        f"{kind} '{name}' came from {distribution} {version} when this run was built, {now}: "
        f"install it with `pip install '{distribution}=={version}'`"
    )


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


class NormalizerRef(ComponentRef):
    """A reference to a normalizer."""

    kind: ClassVar[str] = "normalizer"

    def build(self, *, registry: ComponentRegistry | None = None) -> Normalizer:
        return self._construct(Normalizer, registry)


class AttentionRef(ComponentRef):
    """A reference to an attention block."""

    kind: ClassVar[str] = "attention"

    def build(self, *, channels: int, registry: ComponentRegistry | None = None) -> Attention:
        return self._construct(Attention, registry, channels=channels)


class GeneratorRef(ComponentRef):
    """A reference to a generator."""

    kind: ClassVar[str] = "generator"

    def build(
        self,
        *,
        dims: Dims,
        feature_shape: tuple[int, ...] | None = None,
        registry: ComponentRegistry | None = None,
    ) -> Generator:
        return self._construct(Generator, registry, dims=dims, feature_shape=feature_shape)


class TrunkRef(ComponentRef):
    """A reference to a discriminator trunk."""

    kind: ClassVar[str] = "trunk"

    def build(self, *, dims: Dims, registry: ComponentRegistry | None = None) -> Trunk:
        return self._construct(Trunk, registry, dims=dims)


class HeadRef(ComponentRef):
    """A reference to a discriminator head."""

    kind: ClassVar[str] = "head"

    def build(
        self,
        *,
        dims: Dims,
        in_shape: tuple[int, int, int],
        registry: ComponentRegistry | None = None,
    ) -> Head:
        return self._construct(Head, registry, dims=dims, in_shape=in_shape)


class SemanticEncoderRef(ComponentRef):
    """A reference to a semantic encoder."""

    kind: ClassVar[str] = "semantic_encoder"

    def build(self, *, dims: Dims, registry: ComponentRegistry | None = None) -> SemanticEncoder:
        return self._construct(SemanticEncoder, registry, dims=dims)


class LossRef(ComponentRef):
    """A reference to a loss term."""

    kind: ClassVar[str] = "loss"

    def build(self, *, dims: Dims, registry: ComponentRegistry | None = None) -> Loss:
        return self._construct(Loss, registry, dims=dims)


class DatasetRef(ComponentRef):
    """A reference to a data set."""

    kind: ClassVar[str] = "dataset"

    def build(self, *, registry: ComponentRegistry | None = None) -> Dataset:
        return self._construct(Dataset, registry)


class MetricRef(ComponentRef):
    """A reference to a metric."""

    kind: ClassVar[str] = "metric"

    def build(self, *, registry: ComponentRegistry | None = None) -> Metric:
        return self._construct(Metric, registry)
