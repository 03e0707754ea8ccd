"""benchmarks/speed/bench_data.py --quick runs and prints its table (speed is not asserted)."""

import re

from benchmarks.speed import bench_data


def test_quick_benchmark_prints_every_row(capsys):
    assert bench_data.main(["--quick"]) == 0
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
