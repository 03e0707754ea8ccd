"""Small modules and short functions: no Python module of the repository over 400 lines and no
function over 60 (the project's rule), read from the source with ``ast``: the package, its
tests, the benchmarks and the examples alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
FOLDERS = ("core", "registry", "plugins", "tests", "benchmarks", "examples")
MODULE_LINES, FUNCTION_LINES = 400, 60


def _modules() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def _functions(path: Path, root: Path = ROOT) -> dict[str, int]:
    """Each function's and method's length in lines (its ``def`` line to its last), by
    ``path:Class.name`` (nested functions count inside their parent too)."""
    found: dict[str, int] = {}
    where = path.relative_to(root).as_posix()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                found[f"{where}:{name}"] = child.end_lineno - child.lineno + 1
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def test_the_walk_finds_every_function_with_its_length(tmp_path):
    source = "class A:\n    def f(self):\n        def g():\n            pass\n        return g\n"
    (tmp_path / "m.py").write_text(source + "\n\nasync def h():\n    pass\n")
    found = _functions(tmp_path / "m.py", tmp_path)
    assert found == {"m.py:A.f": 4, "m.py:A.f.g": 2, "m.py:h": 2}


def test_no_module_is_over_400_lines():
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    }
    assert not long, f"split these modules (at most {MODULE_LINES} lines): {long}"


def test_no_function_is_over_60_lines():
    lengths = {key: n for path in _modules() for key, n in _functions(path).items()}
    long = {key: n for key, n in lengths.items() if n > FUNCTION_LINES}
    assert not long, f"shorten these functions (at most {FUNCTION_LINES} lines): {long}"
