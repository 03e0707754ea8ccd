"""zsk's checks hold under ``python -O`` (``PYTHONOPTIMIZE``), which drops every ``assert``.

No product module uses ``assert`` (read from the source with ``ast``), and a representative
part of the suite — the component contract's planted bugs, a spec's mistakes, damaged benchmark
files — passes in a ``python -O`` process, where a check that was an ``assert`` would let its
test's expected error go missing.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PRODUCT = ("core", "registry", "plugins")
#: Test modules whose expected errors come from zsk's own checks, run under ``python -O``.
UNDER_OPTIMIZE = (
    "tests/testing/test_contract_planted_bugs.py",
    "tests/core/spec/test_spec.py",
    "tests/core/data/test_xlsa17.py",
)


def _asserts(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]


def test_the_walk_finds_an_assert_anywhere_in_a_module(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f(x):\n    if x:\n        assert x > 0, 'positive'\n    return x\n")
    assert _asserts(module) == [3]


def test_no_product_module_relies_on_assert():
    found = {
        f"{path.relative_to(ROOT).as_posix()}:{line}"
        for folder in PRODUCT
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _asserts(path)
    }
    assert not found, f"raise an exception instead of assert (python -O drops it): {found}"


def test_checks_raise_under_python_optimize():
    env = {**os.environ, "PYTHONOPTIMIZE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-O", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, *UNDER_OPTIMIZE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
