"""The example package's planted bugs are caught under ``python -O``, where ``assert`` is gone:
the contract raises its own exception, so a plugin's contract tests cannot pass by accident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zsk-plugin-example"


def test_each_planted_bug_is_caught_under_python_optimize():
    run = subprocess.run(
        [sys.executable, "-O", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "caught"]
        + ["tests/test_example_planted_bugs.py"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout, run.stdout
    assert "are you using python -O?" in run.stdout  # pytest's warning: asserts are gone
