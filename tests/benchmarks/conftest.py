"""The benchmark scripts import each other as top-level modules (``common``, ``flat_loop``):
put their folder on the import path, as running one of them does."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
