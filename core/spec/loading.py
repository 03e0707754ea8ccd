"""Reading a spec file: YAML with line/column marks, ``--set`` overrides, located errors.

Every problem is reported as ``file:line:col  dotted.path  message`` (a value given with
``--set`` is located as ``--set path=value`` instead), with a did-you-mean where a key or a
component name is close to a known one. The YAML is read with PyYAML's safe loader only.

A spec without ``name`` is named after its file (``examples/shapes.yaml`` -> ``shapes``).
A lock file written by ``zsk build`` (``*.lock.yaml``) is a spec too: its ``lock:`` section (what
the build resolved) is set aside in :attr:`SpecDocument.lock`. A spec with a ``stages:`` section
is a staged spec (:mod:`zsk.core.spec.stages`), read by :func:`read_spec` into a
:class:`StagedDocument`, whose :meth:`~StagedDocument.stage_document` locates each stage's
problems in the same file.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from zsk.core.spec.refs import ComponentRef, recorded_components
from zsk.core.spec.sections import Problem, Spec, SpecError, SpecPath, dotted, reference_problems
from zsk.core.spec.stages import StagedSpec, stage_problems
from zsk.registry import ComponentRegistry, RegistryError, UserError, get_registry

LOCK_KEY = "lock"
LOCK_SUFFIX = ".lock.yaml"


@dataclass
class SpecDocument:
    """A validated spec and where each of its parts came from."""

    spec: Spec
    source: str
    marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[SpecPath, str] = field(default_factory=dict)
    lock: dict[str, Any] | None = None

    def locate(self, path: SpecPath, *, key: bool = False) -> str:
        """``file:line:col`` of ``path`` (or of its nearest ancestor in the file)."""
        return _Locator(self.source, self.marks, self.key_marks, self.overridden)(path, key=key)


@dataclass
class StagedDocument:
    """A validated staged spec and where each of its parts came from."""

    spec: StagedSpec
    source: str
    marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[SpecPath, str] = field(default_factory=dict)
    lock: dict[str, Any] | None = None

    def locate(self, path: SpecPath, *, key: bool = False) -> str:
        """``file:line:col`` of ``path`` (or of its nearest ancestor in the file)."""
        return _Locator(self.source, self.marks, self.key_marks, self.overridden)(path, key=key)

    def stage_document(self, stage: str, spec: Spec) -> SpecDocument:
        """Stage ``stage`` as the one-stage ``spec``, its paths located where the stage is
        written (a feature stage's ``data`` at its ``features_from``)."""
        prefix = ("stages", stage)
        renamed = {("data",): (*prefix, "features_from")}
        if self.spec.stages[stage].data is not None:
            renamed = {}

        def moved(table: dict[SpecPath, Any]) -> dict[SpecPath, Any]:
            own = {p[2:]: v for p, v in table.items() if p[:2] == prefix and len(p) > 2}
            for inner, outer in renamed.items():
                if outer in table:
                    own[inner] = table[outer]
            for top in ("name", "validation_run"):
                if (top,) in table:
                    own[(top,)] = table[(top,)]
            return own

        return SpecDocument(
            spec,
            self.source,
            moved(self.marks),
            moved(self.key_marks),
            moved(self.overridden),
        )


@dataclass
class _Locator:
    source: str
    marks: dict[SpecPath, tuple[int, int]]
    key_marks: dict[SpecPath, tuple[int, int]]
    overridden: dict[SpecPath, str]

    def __call__(self, path: SpecPath, *, key: bool = False) -> str:
        path = _canonical(path)
        if key and path in self.key_marks:
            line, col = self.key_marks[path]
            return f"{self.source}:{line}:{col}"
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.overridden:
                return f"--set {self.overridden[prefix]}"
            if prefix in self.marks:
                line, col = self.marks[prefix]
                return f"{self.source}:{line}:{col}"
        return f"{self.source}:1:1"


def _canonical(path: Sequence[Any]) -> SpecPath:
    return tuple(part if isinstance(part, int) else str(part) for part in path)


def load_spec(path: Path, overrides: Sequence[str] = ()) -> Spec:
    """The spec in ``path`` with ``--set`` overrides applied, validated against the registry."""
    return load_spec_document(path, overrides).spec


def load_spec_document(
    path: Path, overrides: Sequence[str] = (), *, registry: ComponentRegistry | None = None
) -> SpecDocument:
    """Like :func:`load_spec`, keeping the marks to locate later problems (the composer's)."""
    document = read_spec(path, overrides, registry=registry)
    if isinstance(document, StagedDocument):
        names = ", ".join(document.spec.stages)
        raise UserError(
            f"{path} is a staged spec (stages: {names}); this needs a one-stage spec",
            where=f"{document.locate(('stages',), key=True)}  stages",
            hint="zsk build builds every stage of it; a stage's own spec is in "
            "RUN_DIR/<stage>/spec.lock.yaml",
        )
    return document


def read_spec(
    path: Path, overrides: Sequence[str] = (), *, registry: ComponentRegistry | None = None
) -> SpecDocument | StagedDocument:
    """A one-stage spec, or a staged one when the file has a ``stages:`` section, validated
    (with ``--set`` overrides applied) and with the marks to locate later problems."""
    path = Path(path)
    source = str(path)
    text = _read(path)
    node, data = _parse(text, source)
    marks: dict[SpecPath, tuple[int, int]] = {}
    key_marks: dict[SpecPath, tuple[int, int]] = {}
    duplicates: list[Problem] = []
    if node is not None:
        _walk(node, (), marks, key_marks, duplicates, set())
    locator = _Locator(source, marks, key_marks, {})
    if duplicates:
        raise SpecError(duplicates, lambda path: locator(path, key=True))
    if not isinstance(data, dict):
        raise UserError(
            "a spec is a YAML mapping with the keys name, data, model, objective and train",
            where=f"{source}:1:1  (spec)",
            hint="start from examples/shapes.yaml",
        )
    lock = data.pop(LOCK_KEY, None) if source.endswith(LOCK_SUFFIX) else None
    data.setdefault("name", path.name.removesuffix(".yaml").removesuffix(".yml"))
    for override in overrides:
        set_path, text_value = apply_override(data, override)
        locator.overridden[set_path] = f"{dotted(set_path)}={text_value}"
    registry = registry or get_registry()
    lock = lock if isinstance(lock, dict) else None
    overridden = dict(locator.overridden)
    recorded = recorded_components(lock)
    if "stages" in data:
        staged = _validate(StagedSpec, data, registry, locator, recorded)
        problems = stage_problems(staged, registry)
        if problems:
            raise SpecError(problems).located(locator)
        return StagedDocument(staged, source, marks, key_marks, overridden, lock)
    spec = _validate(Spec, data, registry, locator, recorded)
    problems = reference_problems(spec, registry)
    if problems:
        raise SpecError(problems).located(locator)
    return SpecDocument(spec, source, marks, key_marks, overridden, lock)


Root = typing.TypeVar("Root", Spec, StagedSpec)


def _validate(
    root: type[Root],
    data: dict[str, Any],
    registry: ComponentRegistry,
    locator: _Locator,
    recorded: dict[str, dict[str, str]],
) -> Root:
    """The spec with every default filled (nested references' params too:
    :mod:`zsk.core.spec.refs`); ``recorded`` (a lock's :func:`recorded_components`) lets an
    unknown component's message name the package it came from."""
    try:
        return root.model_validate(data, context={"registry": registry, "recorded": recorded})
    except ValidationError as exc:
        problems = _Translator(root, data, registry).problems(exc.errors(), ())
        raise SpecError(problems, _MarkedOrigin(locator, problems)) from None


@dataclass
class _MarkedOrigin:
    """Locates unknown keys at the key itself, everything else at its value."""

    locator: _Locator
    problems: list[Problem]

    def __call__(self, path: SpecPath) -> str:
        key = any(p.path == path and p.message.startswith("unknown key") for p in self.problems)
        return self.locator(path, key=key)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"no spec file '{path}'", hint="give the path of a spec, e.g. examples/shapes.yaml"
        ) from None
    except IsADirectoryError:
        raise UserError(f"'{path}' is a directory, not a spec file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"'{path}' is not UTF-8 text ({exc.reason})", where=str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot read '{path}': {exc.strerror}") from None


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise UserError(f"YAML syntax: {problem}", where=f"{where}  (yaml)") from None
    except yaml.YAMLError as exc:
        raise UserError(f"YAML: {exc}", where=f"{source}  (yaml)") from None
    except RecursionError:
        raise UserError("YAML nested too deeply", where=f"{source}  (yaml)") from None
    return node, data


def _walk(
    node: yaml.Node,
    path: SpecPath,
    marks: dict[SpecPath, tuple[int, int]],
    key_marks: dict[SpecPath, tuple[int, int]],
    duplicates: list[Problem],
    visited: set[int],
) -> None:
    """Record the mark of every value by its path; report duplicate keys.

    A node reached again through an alias is marked but not descended into, so anchors cannot
    make this loop or blow up.
    """
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            if child in key_marks:
                line = key_marks[child][0]
                duplicates.append(
                    Problem(child, f"duplicate key {key_node.value!r} (first given on line {line})")
                )
            key_marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, child, marks, key_marks, duplicates, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), marks, key_marks, duplicates, visited)


#: nesting a ``--set`` value may have (a spec's deepest value is a few levels down)
MAX_DEPTH = 32


def _too_deep(where: str) -> UserError:
    return UserError(
        f"the value is nested more than {MAX_DEPTH} levels deep",
        where=where,
        hint="a spec value is a number, a string, or a short list or mapping",
    )


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value`` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, depth) for child in item)
    return deepest


def apply_override(data: dict[str, Any], override: str) -> tuple[SpecPath, str]:
    """Apply one ``dotted.path=value`` to ``data`` in place (value parsed as YAML)."""
    where = f"--set {override}"
    name, sep, text = override.partition("=")
    parts = name.strip().split(".")
    if not sep or not all(parts):
        raise UserError(
            "an override is dotted.path=value", where=where, hint="e.g. --set train.batch_size=32"
        )
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"the value is not valid YAML: {problem}", where=where) from None
    except RecursionError:
        raise _too_deep(where) from None
    if _depth(value) > MAX_DEPTH:
        raise _too_deep(where)
    container: Any = data
    path: list[str | int] = []
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(container, list):
            if not part.lstrip("-").isdigit() or not -len(container) <= int(part) < len(container):
                raise UserError(
                    f"{dotted(path) or 'the spec'} is a list of {len(container)}; "
                    f"'{part}' is not an index of it",
                    where=where,
                )
            key: str | int = int(part) % len(container)
        elif isinstance(container, dict):
            key = part
            if not last and not isinstance(container.get(key), (dict, list)):
                if key in container and container[key] is not None:
                    raise UserError(
                        f"{dotted((*path, key))} is {container[key]!r}, not a mapping",
                        where=where,
                    )
                container[key] = {}
        else:
            raise UserError(f"{dotted(path)} is {container!r}, not a mapping", where=where)
        path.append(key)
        if last:
            container[key] = value
        else:
            container = container[key]
    return tuple(path), text


class _Translator:
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
        path = (*prefix, *_canonical(error["loc"]))
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
