"""benchmarks/speed/gpu.sh runs on the CPU in its reduced mode and reports a sensible table."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "speed" / "gpu.sh"


def test_gpu_benchmark_quick_mode_on_cpu(tmp_path):
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [
            str(SCRIPT),
            "--quick",
            "--device",
            "cpu",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--work",
            str(tmp_path),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "GFLOP per image" in done.stdout and "fp32 eager" in done.stdout
    (row,) = json.loads(out.read_text())
    assert row["config"] == "fp32 eager"
    assert row["images_per_s"] > 0 and row["tflops"] > 0
    assert 0 < row["mfu"] < 1.5  # counted FLOPs over a measured matmul peak
    assert (tmp_path / "synth" / "classes.txt").is_file()
