"""The typed component registry.

A component is a class. Its *kind* comes from its base class (``kind`` class attribute), its
*name* is a short string, its parameters are a nested pydantic model ``Params`` that forbids
unknown keys, and the first line of its docstring is the description shown by ``zsk plugins``.
Every registration is stamped with the plugin and the distribution that made it.

The registry names no kind itself: whoever defines the kinds' base classes declares them with
:func:`declare_kinds` (zsk's core does so in ``zsk.core.components.interfaces``), and a registry
accepts the declared kinds, or the ones it is given.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from zsk.registry.errors import RegistryError


def plural(kind: str) -> str:
    """'loss' -> 'losses', 'head' -> 'heads' (for messages)."""
    return f"{kind}es" if kind.endswith("s") else f"{kind}s"


class Component:
    """Base of every component. Subclasses set ``kind`` (via the kind's base class) and ``name``."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    @classmethod
    def description(cls) -> str:
        """First line of the nearest docstring of a named component class (not a kind base)."""
        for klass in cls.__mro__:
            doc = klass.__dict__.get("__doc__")
            if doc and doc.strip():
                named = bool(klass.__dict__.get("name") or getattr(klass, "name", ""))
                return inspect.cleandoc(doc).splitlines()[0] if named else ""
        return ""


#: Declared kinds in listing order: kind name -> its base class.
_DECLARED: dict[str, type[Component]] = {}


def declare_kinds(*bases: type[Component]) -> tuple[str, ...]:
    """Declare each base class's ``kind`` as a kind of component, in listing order.

    Returns the kind names. Declaring the same kind again with the same base is harmless;
    with another base it is an error (two meanings of one kind).
    """
    for base in bases:
        kind = base.kind
        if not kind:
            raise RegistryError(f"{base.__qualname__} declares no `kind`")
        earlier = _DECLARED.get(kind)
        if earlier is not None and earlier is not base:
            raise RegistryError(
                f"kind {kind!r} is declared by {earlier.__module__}.{earlier.__qualname__} "
                f"and again by {base.__module__}.{base.__qualname__}"
            )
        _DECLARED[kind] = base
    return tuple(base.kind for base in bases)


def declared_kinds() -> tuple[str, ...]:
    """Every kind declared so far, in declaration order."""
    return tuple(_DECLARED)


@dataclass(frozen=True)
class ComponentEntry:
    """One registered component and its provenance."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str
    distribution: str
    version: str

    @property
    def description(self) -> str:
        return self.cls.description()

    @property
    def role(self) -> str | None:
        return getattr(self.cls, "role", None)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "description": self.description,
        }
        if self.role is not None:
            row["role"] = self.role
        return row

    def params_rows(self) -> list[dict[str, Any]]:
        """Each parameter with its type, default and description, for ``zsk plugins --params``."""
        rows = []
        for field_name, field in self.cls.Params.model_fields.items():
            rows.append(
                {
                    "name": field_name,
                    "type": type_text(field.annotation),
                    "default": field.get_default(call_default_factory=True),
                    "description": field.description or "",
                }
            )
        return rows


def type_text(annotation: Any) -> str:
    """A parameter's type as a spec writer reads it: ``int``, ``Literal['a', 'b']``,
    ``list[int]``, ``str | None`` (a generic's arguments are kept, e.g. Literal's values)."""
    if typing.get_origin(annotation) is None and isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def validate_component_class(cls: Any, kinds: Sequence[str]) -> None:
    """Reject a class that does not meet the component contract (a component of one of
    ``kinds``), saying what is wrong."""
    label = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise RegistryError(f"{label} is not a zsk component class (subclass a kind's base class)")
    if cls.kind not in kinds:
        bases = [f"{b.__module__}.{b.__qualname__}" for k, b in _DECLARED.items() if k in kinds]
        raise RegistryError(
            f"{label} has kind {cls.kind!r}; kinds are {', '.join(kinds)}",
            hint="subclass the base class of one kind" + (f", e.g. {bases[-1]}" if bases else ""),
        )
    if not cls.name or not isinstance(cls.name, str):
        raise RegistryError(f"{label} has no `name`; give it a short name such as 'lsgan'")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise RegistryError(f"{label}.Params must be a pydantic BaseModel")
    if params.model_config.get("extra") != "forbid":
        raise RegistryError(
            f"{label}.Params must refuse unknown keys",
            hint='set model_config = ConfigDict(extra="forbid") (inherit Component.Params)',
        )
    missing = [n for n, f in params.model_fields.items() if f.is_required()]
    if missing:
        raise RegistryError(
            f"{label}.Params fields {', '.join(missing)} have no default; every parameter needs one"
        )
    if not cls.description():
        raise RegistryError(f"{label} has no docstring; its first line is its description")


class ComponentRegistry:
    """Components by kind and name, with provenance, wildcard listing and helpful misses.

    ``kinds`` are the kinds it accepts, in listing order; by default every declared kind
    (:func:`declare_kinds`), read when asked, so a kind declared later is accepted too.
    """

    def __init__(self, kinds: Sequence[str] | None = None) -> None:
        self._kinds = tuple(kinds) if kinds is not None else None
        self._entries: dict[tuple[str, str], ComponentEntry] = {}
        #: Plugins that failed to load (objects with ``plugin``, ``distribution``, ``error`` and
        #: ``component``); a lookup that misses names them, since the component may be theirs.
        self.plugin_failures: list[Any] = []
        #: Installed plugins left out by ZSK_LOAD_PLUGINS, as ``(plugin, distribution)``.
        self.filtered_out: list[tuple[str, str]] = []

    def add(
        self,
        cls: type[Component],
        *,
        plugin: str,
        distribution: str,
        version: str,
        override: bool = False,
    ) -> ComponentEntry:
        validate_component_class(cls, self.kinds)
        key = (cls.kind, cls.name)
        existing = self._entries.get(key)
        if existing is not None and not override:
            raise RegistryError(
                f"duplicate {cls.kind} '{cls.name}': registered by plugin '{existing.plugin}' "
                f"({existing.distribution} {existing.version}) and again by plugin '{plugin}' "
                f"({distribution} {version})",
                hint="rename one, or pass override=True to register() to replace it on purpose",
            )
        entry = ComponentEntry(cls.kind, cls.name, cls, plugin, distribution, version)
        self._entries[key] = entry
        return entry

    def get(self, kind: str, name: str) -> ComponentEntry:
        self._check_kind(kind)
        entry = self._entries.get((kind, name))
        if entry is not None:
            return entry
        names = sorted(n for k, n in self._entries if k == kind)
        message = f"unknown {kind} '{name}'."
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            message += f" Did you mean '{close[0]}'?"
        other_kinds = sorted(k for k, n in self._entries if n == name and k != kind)
        if other_kinds:
            message += f" '{name}' is a {other_kinds[0].replace('_', ' ')}, not a {kind}."
        message += self._failure_notes(kind, name)
        hint = (
            f"available {plural(kind)}: {', '.join(names) or '(none)'} "
            f"(see `zsk plugins --kind {kind}`)"
        )
        raise RegistryError(message, hint=hint)

    def _failure_notes(self, kind: str, name: str) -> str:
        """Lines naming failed or filtered-out plugins that may have provided ``kind`` ``name``.

        A plugin that failed as a whole (import, plugin API range, a raising hook) may have been
        the one providing it; a failed single registration is named only when it is this one.
        A plugin that ``ZSK_LOAD_PLUGINS`` left out was never imported, so it is always named.
        """
        label = f"{kind} '{name}'"
        notes = ""
        for failure in self.plugin_failures:
            if not failure.component:
                what = "failed to load"
            elif failure.component == label:
                what = f"failed to register {label}"
            else:
                continue
            first_line = failure.error.splitlines()[0] if failure.error else ""
            notes += f"\n  plugin '{failure.plugin}' ({failure.distribution}) {what}: {first_line}"
        for plugin, distribution in self.filtered_out:
            notes += (
                f"\n  plugin '{plugin}' of the installed {distribution} is not loaded: "
                f"ZSK_LOAD_PLUGINS does not list {distribution} (add it there, or unset it)"
            )
        return notes

    def component(self, kind: str, name: str) -> type[Component]:
        return self.get(kind, name).cls

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        return sorted(n for k, n in self._entries if k == kind)

    def list(self, kind: str | None = None, pattern: str = "*") -> list[ComponentEntry]:
        """Entries of one kind (or all), whose names match a shell-style wildcard, sorted."""
        if kind is not None:
            self._check_kind(kind)
        return sorted(
            (
                e
                for e in self._entries.values()
                if (kind is None or e.kind == kind) and fnmatch.fnmatchcase(e.name, pattern)
            ),
            key=lambda e: (self.kinds.index(e.kind), e.name),
        )

    def remove_plugin(self, plugin: str) -> None:
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}

    def __iter__(self) -> Iterator[ComponentEntry]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def kinds(self) -> tuple[str, ...]:
        return self._kinds if self._kinds is not None else declared_kinds()

    def _check_kind(self, kind: str) -> None:
        kinds = self.kinds
        if kind not in kinds:
            close = difflib.get_close_matches(kind, kinds, n=1)
            guess = f" Did you mean '{close[0]}'?" if close else ""
            raise RegistryError(f"unknown kind '{kind}'.{guess}", hint=f"kinds: {', '.join(kinds)}")
