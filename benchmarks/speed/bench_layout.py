"""Memory layout on the CPU: the demo spec's training step, channels_last against contiguous.

    python -m benchmarks.speed.bench_layout          # shapes.yaml (32 px, batch 64), 1, 2 threads
    python -m benchmarks.speed.bench_layout --quick  # tiny networks, a few seconds (test suite)

``zsk train`` converts networks and batches to channels_last (``train.channels_last``, on by
default, on every device). This measures what that buys on the CPU: two trainers of the same
build, one converted as ``zsk train`` does, the other kept contiguous, alternate step by step
(order flipped each pair) after warm-up; each step's cost is its process CPU seconds, and the
median of the per-pair ratios is reported, so drift of a shared machine cancels
(BENCHMARKS.md §2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.speed.common import (
    SHAPES_SPEC,
    machine_line,
    make_trainer,
    median,
    synth_data,
    table,
    timed,
)

TINY = [
    "model.image_size=16",
    "model.embedding_dim=16",
    "model.generator.params.base_channels=8",
    "model.generator.params.max_channels=16",
    "model.trunk.params.channels=[8, 16]",
    "model.heads.reconstruction_feature.params.channels=8",
    "train.batch_size=4",
]


def to_contiguous(trainer) -> None:
    """Undo what the trainer does by default: networks, then every batch, contiguous."""
    trainer.gan.to(memory_format=torch.contiguous_format)
    trainer.feed.channels_last = False


def measure(threads: int, pairs: int, overrides: list[str], work: Path) -> list[str]:
    """One table row: step CPU seconds in each layout and their median ratio."""
    torch.set_num_threads(threads)
    data = synth_data(work / "data", images_per_class=8)
    trainers = {
        layout: make_trainer(SHAPES_SPEC, data, work / f"run-{layout}", overrides)
        for layout in ("true", "false")
    }
    to_contiguous(trainers["false"])
    for trainer in trainers.values():
        for _ in range(2):
            trainer.train_step()  # warm-up: Adam moments allocated, kernels chosen
    seconds: dict[str, list[float]] = {"true": [], "false": []}
    for pair in range(pairs):
        order = ("true", "false") if pair % 2 == 0 else ("false", "true")
        for layout in order:
            seconds[layout].append(timed(trainers[layout].train_step).cpu)
    ratios = [cl / plain for cl, plain in zip(seconds["true"], seconds["false"], strict=True)]
    return [
        str(threads),
        f"{median(seconds['false']):.3f}",
        f"{median(seconds['true']):.3f}",
        f"{median(ratios):.3f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny networks, for the test suite")
    args = parser.parse_args(argv)
    overrides, pairs, thread_counts = (TINY, 3, [1]) if args.quick else ([], 15, [1, 2])
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        rows = [measure(n, pairs, overrides, Path(scratch) / str(n)) for n in thread_counts]
    header = ["threads", "contiguous CPU s/step", "channels_last CPU s/step", "ratio (median)"]
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
