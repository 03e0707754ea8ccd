"""Training throughput of the paper configuration: fp32 eager, bf16 + channels_last, bf16 + compile.

Builds examples/paper-awa2.yaml (128×128, batch 64) against a synthetic data set (``zsk data
synth``), times full training steps (D and G updates) after warm-up, and prints images/s, peak
device memory and model FLOPs utilisation (MFU) against the measured peak of a large bf16
matrix multiply. FLOPs per image are counted with ``torch.utils.flop_counter`` on one real step.

``--quick`` is the reduced mode for a CPU (and for the test suite): 32-px images, narrow
networks, batch 4, two steps, fp32 only.

    python -m benchmarks.speed.bench_gpu                 # on a GPU
    python -m benchmarks.speed.bench_gpu --quick         # anywhere
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.speed.common import PAPER_SPEC, TINY_PAPER_OVERRIDES, make_trainer
from zsk.core.data.synth import synthesize
from zsk.core.storage.files import write_file
from zsk.core.train.loop import Trainer

#: (label, precision, channels_last, compile)
CONFIGS = [
    ("fp32 eager", "fp32", False, False),
    ("bf16 + channels_last", "bf16", True, False),
    ("bf16 + channels_last + compile", "bf16", True, True),
]


@dataclass
class Row:
    config: str
    images_per_s: float
    peak_memory_gib: float
    tflops: float
    mfu: float


def matmul_peak(device: torch.device, quick: bool) -> float:
    """Measured FLOP/s of a large square matrix multiply (bf16 on CUDA, fp32 on the CPU)."""
    size, dtype = (512, torch.float32) if quick else (8192, torch.bfloat16)
    if device.type == "cuda":
        dtype = torch.bfloat16
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    repeats = 3 if quick else 50
    for _ in range(2):
        a @ b
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_image(trainer: Trainer) -> float:
    """FLOPs of one full training step (forward and backward, D and G) per real image."""
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step()
    return counter.get_total_flops() / trainer.images_per_step


def measure(trainer: Trainer, warmup: int, steps: int) -> tuple[float, float]:
    """(images/s, peak memory GiB) over ``steps`` after ``warmup`` steps."""
    device = trainer.device
    for _ in range(warmup):
        trainer.train_step()
    _synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return steps * trainer.images_per_step / seconds, peak


def run(quick: bool, steps: int, warmup: int, device: str, work: Path) -> list[Row]:
    data_root = work / "synth"
    if not (data_root / "classes.txt").is_file():
        synthesize(data_root, images_per_class=4 if quick else 32)
    overrides = list(TINY_PAPER_OVERRIDES) if quick else []
    configs = CONFIGS[:1] if quick else CONFIGS
    rows, per_image, peak = [], None, None
    for label, precision, channels_last, compiled in configs:
        settings = [
            f"train.precision={precision}",
            f"train.channels_last={channels_last}",
            f"train.compile={compiled}",
        ]
        run_dir = work / "run" / precision
        trainer = make_trainer(PAPER_SPEC, data_root, run_dir, overrides + settings, device)
        if per_image is None:
            per_image = flops_per_image(trainer)
            peak = matmul_peak(trainer.device, quick)
        images_per_s, memory = measure(trainer, warmup, steps)
        achieved = per_image * images_per_s
        rows.append(Row(label, images_per_s, memory, achieved / 1e12, achieved / peak))
    print(
        f"device: {_device_name(trainer.device)}; {per_image / 1e9:.2f} GFLOP per image "
        f"(training step, counted); matmul peak {peak / 1e9:.0f} GFLOP/s (measured)"
    )
    return rows


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def print_table(rows: list[Row]) -> None:
    print(f"{'configuration':34} {'images/s':>10} {'peak GiB':>9} {'TFLOP/s':>9} {'MFU':>7}")
    for row in rows:
        print(
            f"{row.config:34} {row.images_per_s:10.1f} {row.peak_memory_gib:9.2f} "
            f"{row.tflops:9.3f} {row.mfu:7.1%}"
        )


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny CPU mode: 32 px, fp32 only")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (20; quick: 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (5; quick: 1)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--work", type=Path, default=None, help="folder for data and runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    with tempfile.TemporaryDirectory() as scratch:
        rows = run(args.quick, steps, warmup, args.device, args.work or Path(scratch))
    print_table(rows)
    if args.json:
        write_file(args.json, json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
