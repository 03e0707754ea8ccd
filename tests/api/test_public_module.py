"""``zsk.api`` is the one import surface of a plugin: every name a plugin meets is there.

A name is *plugin-facing* when a plugin meets it: the kinds' base classes and everything their
methods, constructors and fields take or return, followed transitively through zsk's own types,
and everything the functions and classes ``zsk.api`` exports take or return. Each must be
importable from ``zsk.api`` as the very same object. And the plugin code zsk ships or prints —
the example package, every scaffold ``zsk plugin new`` writes, the plugin guide's code — imports
from ``zsk.api`` and from no other zsk module.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import zsk.api as api
from zsk.core.cli.main import cli
from zsk.core.cli.plugin_cmd import SCAFFOLD_KINDS

REPO = Path(__file__).resolve().parents[2]
KIND_BASES = (
    api.Generator,
    api.Trunk,
    api.Head,
    api.EmbeddingHead,
    api.SemanticEncoder,
    api.Loss,
    api.Normalizer,
    api.Attention,
    api.Dataset,
    api.Metric,
)


def _top_level_assignments(module: types.ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _zsk_names(annotation: str, module: types.ModuleType) -> dict[str, object]:
    """The zsk-defined objects an annotation names, resolved in its module's globals."""
    found = {}
    for node in ast.walk(ast.parse(annotation, mode="eval")):
        if not isinstance(node, ast.Name) or node.id not in vars(module):
            continue
        value = vars(module)[node.id]
        if isinstance(value, types.ModuleType):
            continue
        own = getattr(value, "__module__", "") or ""
        assigned_here = node.id in _top_level_assignments(module)
        if own.startswith("zsk.") or (assigned_here and module.__name__.startswith("zsk.")):
            found[node.id] = value
    return found


def _annotations_of(obj: object) -> list[tuple[str, types.ModuleType]]:
    """(annotation text, module it is written in) of a class's fields and public methods, or
    of a function's parameters and return."""
    pairs: list[tuple[str, types.ModuleType]] = []
    if inspect.isclass(obj):
        for klass in obj.__mro__:
            module = sys.modules.get(klass.__module__)
            if module is None or not klass.__module__.startswith("zsk."):
                continue
            for field, text in vars(klass).get("__annotations__", {}).items():
                if not field.startswith("_"):
                    pairs.append((str(text), module))
            for name, member in vars(klass).items():
                public = not name.startswith("_") or name == "__init__"
                function = getattr(member, "__func__", member)
                if public and inspect.isfunction(function):
                    pairs += _annotations_of(function)
    elif inspect.isfunction(obj):
        module = sys.modules[obj.__module__]
        pairs += [(str(text), module) for text in obj.__annotations__.values()]
    return pairs


def plugin_facing_names() -> dict[str, object]:
    """Every zsk-defined name a plugin meets, from the kinds' bases and zsk.api's exports."""
    seen: dict[str, object] = {}
    exported = [getattr(api, name, None) for name in api.__all__]
    todo: list[object] = [*KIND_BASES, *(obj for obj in exported if obj is not None)]
    visited: set[int] = set()
    while todo:
        obj = todo.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        for text, module in _annotations_of(obj):
            for name, value in _zsk_names(text, module).items():
                if name not in seen:
                    seen[name] = value
                    todo.append(value)
    return seen


def test_every_plugin_facing_name_is_in_zsk_api():
    names = plugin_facing_names()
    assert {"Dims", "Condition", "StepContext", "ZslData", "MetricInputs", "Phase"} <= set(names)
    missing = sorted(
        f"{name} (from {getattr(value, '__module__', '?')})"
        for name, value in names.items()
        if getattr(api, name, None) is not value
    )
    assert not missing, f"plugin-facing names reachable only outside zsk.api: {missing}"


def test_the_check_finds_a_name_that_zsk_api_lacks(monkeypatch):
    monkeypatch.delattr(api, "Condition")
    names = plugin_facing_names()
    assert "Condition" in names and getattr(api, "Condition", None) is not names["Condition"]


def test_all_lists_exactly_what_the_module_offers():
    offered = {n for n in vars(api) if not n.startswith("_") and n != "annotations"}
    assert set(api.__all__) == offered
    assert all(hasattr(api, name) for name in api.__all__)


ZSK_IMPORT = re.compile(r"^\s*(?:from\s+(zsk(?:\.[\w.]+)?)\s+import|import\s+(zsk(?:\.[\w.]+)?)\b)")


def _zsk_imports(source: str) -> list[str]:
    modules = []
    for line in source.splitlines():
        match = ZSK_IMPORT.match(line)
        if match:
            modules.append(match.group(1) or match.group(2))
    return modules


def _private_imports(files: dict[str, str]) -> list[str]:
    return [
        f"{name}: {module}"
        for name, source in files.items()
        for module in _zsk_imports(source)
        if module != "zsk.api"
    ]


def test_the_example_package_imports_only_zsk_api():
    root = REPO / "examples" / "zsk-plugin-example"
    files = {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.py"))}
    assert any(_zsk_imports(source) for source in files.values())
    assert _private_imports(files) == []


def test_every_scaffold_imports_only_zsk_api(tmp_path):
    files = {}
    for kind in sorted(SCAFFOLD_KINDS):
        folder = tmp_path / kind
        result = CliRunner().invoke(
            cli, ["plugin", "new", f"zsk-demo-{kind}", "--add", kind, "--dir", str(folder)]
        )
        assert result.exit_code == 0, result.output
        files |= {str(p.relative_to(tmp_path)): p.read_text() for p in folder.rglob("*.py")}
    assert len(files) > len(SCAFFOLD_KINDS)
    assert _private_imports(files) == []


def test_the_plugin_guide_code_imports_only_zsk_api():
    guide = (REPO / "docs" / "plugin-guide.md").read_text()
    blocks = dict(enumerate(re.findall(r"```python\n(.*?)```", guide, flags=re.S)))
    assert blocks
    assert _private_imports({f"python block {i}": code for i, code in blocks.items()}) == []


@pytest.mark.parametrize("line", ["from zsk.core.components.interfaces import Loss", "import zsk"])
def test_a_private_import_is_caught(line):
    assert _private_imports({"x.py": line}) == [f"x.py: {line.split()[1]}"]


def test_a_plugins_own_package_is_not_a_zsk_import():
    assert _zsk_imports("import zsk_plugin_example\nfrom zsk_plugin_example import x") == []
