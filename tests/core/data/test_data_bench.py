"""benchmarks/bench_data.py --quick runs and prints its table (speed is not asserted in tests)."""

import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).parents[3] / "benchmarks" / "bench_data.py"


def test_quick_benchmark_prints_every_row(capsys):
    spec = importlib.util.spec_from_file_location("bench_data", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["path", "images/s"]
    rows = [re.match(r"^(\S+ \S+).*?\s{2,}([\d,]+)\s", line) for line in lines[1:]]
    assert [row.group(1) for row in rows] == [
        "plain PIL",
        "zsk decode",
        "bare uint8->float",
        "prepared batches",
    ]
    assert all(int(row.group(2).replace(",", "")) > 0 for row in rows)
    assert re.search(r"\d+\.\d× plain", lines[2])
