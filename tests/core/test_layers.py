"""zsk's layers, bottom to top, and the tests that keep every import pointing down, without cycles.

``LAYERS`` is the one statement of the order (CONTRIBUTING.md draws it): a module may import
from its own layer and the layers below it. The graph counts every import of a zsk module
anywhere in a file, those under ``TYPE_CHECKING`` and inside functions included: a lazy import
still ties the two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Bottom to top: (package, what lives there).
LAYERS: tuple[tuple[str, str], ...] = (
    ("zsk.registry", "the plugin system: hooks, plugin manager, component registry, UserError"),
    ("zsk.core.components", "the kinds' base classes and the plain types they exchange"),
    ("zsk.core.storage", "atomic file writes and the run directory's lock"),
    ("zsk.core.spec", "the spec: sections, component references, YAML loading, schema"),
    ("zsk.core.data", "data sets: file readers, splits, image loading, feature extraction"),
    ("zsk.core.build", "a spec composed into networks and objectives, checked by a dry pass"),
    ("zsk.core.train", "the training loop, its step, optimisers, checkpoints"),
    ("zsk.core.rundir", "a run directory's files and the validation run made from it"),
    ("zsk.core.evaluate", "a trained run evaluated: protocol metrics, reports, pictures"),
    ("zsk.core.recommend", "zsk init's recommended spec, sized with the composer and the loop"),
    ("zsk.testing", "contract checks and tiny data for plugin authors' tests"),
    ("zsk.api", "the plugin API: every name a plugin may import, in one module"),
    ("zsk.core.cli", "the zsk command line"),
)

#: The built-in components stand beside the line: they build on these layers (evaluate for the
#: metrics, which reuse its FID features, and for feature losses that reuse its classifier), and
#: nothing in zsk imports them: the registry loads them by name, as it loads any plugin.
PLUGINS = "zsk.plugins"
PLUGINS_MAY_IMPORT: frozenset[str] = frozenset(
    {
        "zsk.registry",
        "zsk.core.components",
        "zsk.core.storage",
        "zsk.core.spec",
        "zsk.core.data",
        "zsk.core.build",
        "zsk.core.train",
        "zsk.core.evaluate",
    }
)

#: Source folders and the package each one is.
SOURCES: tuple[tuple[str, str], ...] = (
    ("core/testing", "zsk.testing"),
    ("core/api", "zsk.api"),
    ("core", "zsk.core"),
    ("registry", "zsk.registry"),
    ("plugins", "zsk.plugins"),
)

Graph = dict[str, set[str]]


def module_files() -> dict[str, Path]:
    """Every zsk module by its dotted name."""
    modules: dict[str, Path] = {}
    for folder, package in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            inner = [ROOT / f for f, p in SOURCES if f.startswith("core/") and p != package]
            if any(path.is_relative_to(folder) for folder in inner):
                continue
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            modules[name.removesuffix(".__init__")] = path
    return modules


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """The zsk modules ``name`` imports anywhere in its file (``from P import m`` counts as the
    module ``P.m`` when that is one, else as ``P``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            targets = [t for t in targets[:-1] if t in modules] or [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> tuple[Graph, dict[str, Path]]:
    files = module_files()
    names = set(files)
    return {name: imported_modules(name, path, names) for name, path in files.items()}, files


def layer_of(module: str) -> str | None:
    """The layer (or ``zsk.plugins``) a module belongs to: the longest package that holds it."""
    packages = [package for package, _ in LAYERS] + [PLUGINS]
    holding = [p for p in packages if module == p or module.startswith(p + ".")]
    return max(holding, key=len) if holding else None


def may_import(importer: str, imported: str) -> bool:
    rank = {package: index for index, (package, _) in enumerate(LAYERS)}
    if importer == PLUGINS:
        return imported == PLUGINS or imported in PLUGINS_MAY_IMPORT
    return imported != PLUGINS and rank[imported] <= rank[importer]


def back_imports(graph: Graph) -> Iterator[tuple[str, str, str, str]]:
    """(module, what it imports, its layer, the imported module's layer) for each import
    that reaches up, or sideways into the plugins."""
    for module in sorted(graph):
        for target in sorted(graph[module]):
            here, there = layer_of(module), layer_of(target)
            if here and there and not may_import(here, there):
                yield module, target, here, there


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a path that
    ends where it starts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: Graph, group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not a cycle")


def test_every_module_has_a_layer():
    graph, files = import_graph()
    assert "zsk.core.components.interfaces" in graph and "zsk.plugins.builtin.losses" in graph
    homeless = [
        str(files[m].relative_to(ROOT)) for m in graph if m != "zsk.core" and not layer_of(m)
    ]
    assert not homeless, f"place these in a layer of LAYERS (tests/core/test_layers.py): {homeless}"
    assert not graph["zsk.core"], "core/__init__.py is a namespace only: it imports nothing"


def test_no_import_cycle():
    graph, _ = import_graph()
    found = [" -> ".join(cycle) for cycle in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_every_import_points_down_the_layers():
    graph, files = import_graph()
    wrong = [
        f"{files[module].relative_to(ROOT)}: imports {target} ({there}), above its layer {here}"
        for module, target, here, there in back_imports(graph)
    ]
    assert not wrong, "imports against the layer order (LAYERS):\n" + "\n".join(wrong)


def test_the_checks_name_a_planted_cycle_and_back_import():
    graph: Graph = {
        "zsk.core.spec.a": {"zsk.core.build.b"},
        "zsk.core.build.b": {"zsk.core.train.c"},
        "zsk.core.train.c": {"zsk.core.build.b"},
        "zsk.plugins.p": {"zsk.core.evaluate.e", "zsk.core.cli.main"},
        "zsk.core.evaluate.e": {"zsk.plugins.p"},
        "zsk.core.cli.main": set(),
    }
    assert sorted(cycles(graph)) == [
        ["zsk.core.build.b", "zsk.core.train.c", "zsk.core.build.b"],
        ["zsk.core.evaluate.e", "zsk.plugins.p", "zsk.core.evaluate.e"],
    ]
    assert list(back_imports(graph)) == [
        ("zsk.core.build.b", "zsk.core.train.c", "zsk.core.build", "zsk.core.train"),
        ("zsk.core.evaluate.e", "zsk.plugins.p", "zsk.core.evaluate", PLUGINS),
        ("zsk.core.spec.a", "zsk.core.build.b", "zsk.core.spec", "zsk.core.build"),
        ("zsk.plugins.p", "zsk.core.cli.main", PLUGINS, "zsk.core.cli"),
    ]


def test_imports_are_read_from_type_checking_blocks_and_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from zsk.core.build.model import GAN\n"
        "def f():\n    from zsk.core.data import loader\n    import zsk.registry.errors\n"
    )
    modules = {"zsk.core.build.model", "zsk.core.data", "zsk.core.data.loader", "zsk.registry"}
    found = imported_modules("zsk.core.spec.m", source, modules)
    assert found == {"zsk.core.build.model", "zsk.core.data.loader", "zsk.registry"}
