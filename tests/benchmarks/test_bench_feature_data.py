"""The feature-data benchmark's reduced mode runs and prints both rows."""

from __future__ import annotations

import re

from benchmarks.speed import bench_feature_data


def test_quick_mode_prints_the_read_and_extract_rows(capsys):
    assert bench_feature_data.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"read xlsa17, 120 × 16 +\d+\.\d\d CPU s, peak [\d,]+ MiB", out)
    assert re.search(r"extract test_resnet 32 px -> \d+-d \(48 images\) +\d+ CPU ms per image", out)
