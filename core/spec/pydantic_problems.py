"""Pydantic's validation errors as located spec problems, in the spec's own terms.

A missing key, an unknown key (with a did-you-mean among the keys allowed there, component
parameters included), an unknown component, a wrong value: each becomes a
:class:`~zsk.core.spec.sections.Problem` at its dotted path, which the reader then locates in the
file (``file:line:col``) or in a ``--set`` override.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from zsk.core.spec.refs import ComponentRef
from zsk.core.spec.sections import Problem, SpecPath
from zsk.registry import ComponentRegistry, RegistryError


def canonical(path: Sequence[Any]) -> SpecPath:
    """A path with every part a string, list indices kept as integers."""
    return tuple(part if isinstance(part, int) else str(part) for part in path)


class Translator:
    """Turns pydantic's errors into located :class:`Problem` s in the spec's own terms."""

    def __init__(self, root: type[BaseModel], data: Any, registry: ComponentRegistry):
        self.root = root
        self.data = data
        self.registry = registry

    def problems(self, errors: list[Any], prefix: SpecPath) -> list[Problem]:
        out: list[Problem] = []
        for error in errors:
            out.extend(self._one(error, prefix))
        return out

    def _one(self, error: Any, prefix: SpecPath) -> list[Problem]:
        path = (*prefix, *canonical(error["loc"]))
        kind = error["type"]
        if kind == "unknown_component":
            return [Problem((*path[:-1], "type"), error["msg"])]
        if kind == "extra_forbidden":
            return [self._unknown_key(path)]
        if kind == "missing":
            return [Problem(path, f"required key {path[-1]!r} is missing")]
        message = error["msg"].removeprefix("Value error, ")
        if "input" in error and not isinstance(error["input"], (dict, list)):
            shown = repr(error["input"])
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        return [Problem(path, message)]

    def _unknown_key(self, path: SpecPath) -> Problem:
        name = str(path[-1])
        known = _fields_at(self.root, path[:-1], self.data, self.registry)
        message = f"unknown key {name!r}."
        hint = None
        if known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if close:
                message += f" Did you mean '{close[0]}'?"
            hint = f"keys here: {', '.join(known)}"
        return Problem(path, message, hint)


def _value_at(data: Any, path: SpecPath) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_at(model: Any, path: SpecPath, data: Any, registry: ComponentRegistry) -> Any:
    """The annotation found at ``path`` below ``model`` (component params by their ``type``)."""
    annotation = model
    walked: SpecPath = ()
    for part in path:
        annotation = _strip_optional(annotation)
        origin = typing.get_origin(annotation)
        if origin in (dict, list, tuple):
            args = typing.get_args(annotation)
            annotation = args[-1] if origin is dict else (args[0] if args else Any)
        elif _is_model(annotation):
            if issubclass(annotation, ComponentRef) and part == "params":
                ref = _value_at(data, walked)
                try:
                    annotation = registry.component(annotation.kind, str(ref.get("type")))
                    annotation = annotation.Params
                except (RegistryError, AttributeError):
                    return None
            elif part in annotation.model_fields:
                annotation = annotation.model_fields[part].annotation
            else:
                return None
        else:
            return None
        walked = (*walked, part)
    return _strip_optional(annotation)


def _fields_at(model: Any, path: SpecPath, data: Any, registry: ComponentRegistry) -> list[str]:
    found = _model_at(model, path, data, registry)
    return list(found.model_fields) if _is_model(found) else []
