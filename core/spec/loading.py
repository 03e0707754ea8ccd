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

import copy
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zsk.core.spec.pydantic_problems import Translator, canonical
from zsk.core.spec.refs import recorded_components
from zsk.core.spec.sections import Problem, Spec, SpecError, SpecPath, dotted, reference_problems
from zsk.core.spec.stages import StagedSpec, stage_problems
from zsk.registry import ComponentRegistry, UserError, get_registry

LOCK_KEY = "lock"
LOCK_SUFFIX = ".lock.yaml"


Root = typing.TypeVar("Root", Spec, StagedSpec)


@dataclass
class _Document(typing.Generic[Root]):
    """A validated spec (one-stage or staged) and where each of its parts came from."""

    spec: Root
    source: str
    marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[SpecPath, str] = field(default_factory=dict)
    lock: dict[str, Any] | None = None

    def locate(self, path: SpecPath, *, key: bool = False) -> str:
        """``file:line:col`` of ``path`` (or of its nearest ancestor in the file)."""
        return _Locator(self.source, self.marks, self.key_marks, self.overridden)(path, key=key)


class SpecDocument(_Document[Spec]):
    """A validated one-stage spec and where each of its parts came from."""


class StagedDocument(_Document[StagedSpec]):
    """A validated staged spec and where each of its parts came from."""

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
        path = canonical(path)
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
    spec = _checked_spec(data, registry, locator, recorded)
    return SpecDocument(spec, source, marks, key_marks, overridden, lock)


def validate_spec(
    data: Mapping[str, Any], *, source: str = "spec", registry: ComponentRegistry | None = None
) -> Spec:
    """A one-stage spec given as a mapping (what a spec file's YAML holds) validated as a spec
    file is: every default filled, component references checked against the registry.

    For code that makes a spec (``zsk init``); a problem is reported at its dotted path in
    ``source``. ``data`` is not changed.
    """
    locator = _Locator(source, {}, {}, {})
    return _checked_spec(copy.deepcopy(dict(data)), registry or get_registry(), locator)


def _checked_spec(
    data: dict[str, Any],
    registry: ComponentRegistry,
    locator: _Locator,
    recorded: dict[str, dict[str, str]] | None = None,
) -> Spec:
    spec = _validate(Spec, data, registry, locator, recorded or {})
    problems = reference_problems(spec, registry)
    if problems:
        raise SpecError(problems).located(locator)
    return spec


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
        problems = Translator(root, data, registry).problems(exc.errors(), ())
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
#: values a ``--set`` value may hold with its aliases written out (YAML's ``&a``/``*a``)
MAX_VALUES = 100_000


def _too_deep(where: str) -> UserError:
    return UserError(
        f"the value is nested more than {MAX_DEPTH} levels deep, refers to itself, or holds "
        f"more than {MAX_VALUES:,} values once its aliases are written out",
        where=where,
        hint="a spec value is a number, a string, or a short list or mapping",
    )


def _children(value: Any) -> list[Any] | None:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return value if isinstance(value, list) else None


def _too_big(value: Any) -> bool:
    """Whether lists and mappings in ``value`` nest more than :data:`MAX_DEPTH` deep, form a
    loop, or hold more than :data:`MAX_VALUES` values with aliases written out. Each object is
    measured once (an alias shares its anchor's object), without recursion."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (depth, values written out)
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, done = stack.pop()
        children = _children(item)
        if children is None or (id(item) in measured and not done):
            continue
        if not done:
            if id(item) in open_ids:
                return True  # an alias to a value that contains it
            open_ids.add(id(item))
            stack.append((item, True))
            stack.extend((child, False) for child in children)
            continue
        open_ids.discard(id(item))
        inner = [measured.get(id(c), (0, 1)) for c in children]
        depth = 1 + max((d for d, _ in inner), default=0)
        count = 1 + sum(n for _, n in inner)
        if depth > MAX_DEPTH or count > MAX_VALUES:
            return True
        measured[id(item)] = (depth, count)
    return False


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
    if _too_big(value):
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
