"""Every benchmark in turn (``make bench``), each in its own process on one thread.

    python -m benchmarks.run_all            # full run, under 10 minutes on two cores
    python -m benchmarks.run_all --quick    # every reduced mode, well under a minute

The speed benchmarks of ``benchmarks/speed`` (BENCHMARKS.md §1–4):

- overhead: zsk's training step against a hand-written flat loop (bench_overhead);
- scaling: time and memory per step against batch and image size (bench_scaling);
- data: JPEG decoding and prepared batches, images/s (bench_data);
- layout: channels_last against contiguous on the CPU (bench_layout);
- feature data: reading the benchmark files, extracting features (bench_feature_data);
- GPU: benchmarks/speed/gpu.sh when CUDA is present, otherwise a note how to run it;

then the time to quality of a finished ``make demo`` run (runs/shapes) when one is there (§5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.speed.common import ROOT, machine_line, one_thread

BENCHMARKS = [
    ("overhead", "bench_overhead"),
    ("scaling", "bench_scaling"),
    ("data", "bench_data"),
    ("layout", "bench_layout"),
    ("feature data", "bench_feature_data"),
]
DEMO_RUN = ROOT / "runs" / "shapes"


def run_benchmark(name: str, module: str, quick: bool) -> bool:
    """Run one speed benchmark in its own process (output straight through); True when it
    succeeded."""
    print(f"\n## {name}\n", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    command = [sys.executable, "-m", f"benchmarks.speed.{module}", *(["--quick"] if quick else [])]
    code = subprocess.run(command, env=env, cwd=ROOT).returncode
    print(f"\n({name}: {time.perf_counter() - start:.0f} s, exit code {code})", flush=True)
    return code == 0


def gpu_section(quick: bool) -> bool:
    print("\n## GPU\n", flush=True)
    if not torch.cuda.is_available():
        print(
            "no CUDA device here: skipped. On a machine with one, run `benchmarks/speed/gpu.sh` "
            "(fp32, bf16 + channels_last, bf16 + compile; images/s, peak memory, MFU)."
        )
        return True
    command = [
        "bash",
        str(ROOT / "benchmarks" / "speed" / "gpu.sh"),
        *(["--quick"] if quick else []),
    ]
    return subprocess.run(command).returncode == 0


def time_to_quality(run_dir: Path) -> list[str] | None:
    """Training minutes and the zero-shot numbers of a finished run, or None when it has
    no metrics.jsonl and eval.json.

    Training time spans the first to the last metrics record, stretched by the steps before
    the first record (logged records come every ``log_every`` steps, the first one after
    ``log_every`` steps of training).
    """
    metrics, evaluation = run_dir / "metrics.jsonl", run_dir / "eval.json"
    if not (metrics.is_file() and evaluation.is_file()):
        return None
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    records = [r for r in records if "time" in r and "step" in r]
    result = json.loads(evaluation.read_text())
    lines = []
    if len(records) >= 2:
        first, last = records[0], records[-1]
        per_step = (last["time"] - first["time"]) / max(last["step"] - first["step"], 1)
        minutes = (last["time"] - first["time"] + per_step * first["step"]) / 60
        lines.append(f"training: {minutes:.1f} min for {last['step']} steps")
        waited = (evaluation.stat().st_mtime - last["time"]) / 60
        lines.append(f"eval.json written {waited:.1f} min after the last training record")
    embedding, generative = (result["routes"].get(name, {}) for name in ("embedding", "generative"))
    lines.append(
        "ZSL top-1: embedding {}, generative {}; GZSL H: embedding {}, generative {}".format(
            _percent(embedding.get("zsl_top1")),
            _percent(generative.get("zsl_top1")),
            _percent(embedding.get("gzsl", {}).get("h")),
            _percent(generative.get("gzsl", {}).get("h")),
        )
    )
    return lines


def _percent(value) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark's reduced mode")
    args = parser.parse_args(argv)
    one_thread()
    print("# zsk benchmarks\n\n" + machine_line(), flush=True)
    start = time.perf_counter()
    failed = [name for name, module in BENCHMARKS if not run_benchmark(name, module, args.quick)]
    if not gpu_section(args.quick):
        failed.append("gpu")
    print("\n## time to quality (make demo)\n")
    lines = time_to_quality(DEMO_RUN)
    print("\n".join(lines) if lines else f"no finished demo run in {DEMO_RUN}: run `make demo`")
    print(f"\nall benchmarks: {(time.perf_counter() - start) / 60:.1f} min")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
