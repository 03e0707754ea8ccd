"""What the benchmarks share: the machine's name, synthetic data, a built trainer, tables.

Every benchmark runs on one thread (``torch.set_num_threads(1)``): one thread makes a step's
CPU time a stable measure of its work even when other processes compete for the cores (wall
time is reported beside it).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.build.composer import compose, load_data
from zsk.core.data.synth import synthesize
from zsk.core.spec.loading import load_spec
from zsk.core.train.loop import Trainer

ROOT = Path(__file__).resolve().parents[2]
SHAPES_SPEC = ROOT / "examples" / "shapes.yaml"
PAPER_SPEC = ROOT / "examples" / "paper-awa2.yaml"

#: paper-awa2.yaml's networks made narrow and small (32 px, batch 4), for quick runs
TINY_PAPER_OVERRIDES = (
    "model.image_size=32",
    "model.embedding_dim=16",
    "model.noise_dim=8",
    "model.generator.params.base_channels=8",
    "model.generator.params.max_channels=16",
    "model.trunk.params.channels=[8, 16, 32]",
    "model.heads.reconstruction_feature.params.channels=8",
    "model.semantic_encoder.params.hidden=[16]",
    "train.batch_size=4",
)


def cpu_model() -> str:
    """``lscpu``'s model name (``/proc/cpuinfo`` when lscpu is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"Python {platform.python_version()}, {torch.get_num_threads()} thread(s) per benchmark"
    )


def one_thread() -> None:
    torch.set_num_threads(1)


def synth_data(root: Path, images_per_class: int) -> Path:
    """The synthetic shapes data set in ``root`` (written once; small images, decoded fast)."""
    if not (root / "classes.txt").is_file():
        synthesize(root, images_per_class=images_per_class, min_size=24, max_size=48)
    return root


def make_trainer(
    spec_path: Path,
    data_root: Path,
    run_dir: Path,
    overrides: Sequence[str],
    device: str = "cpu",
) -> Trainer:
    """A ``Trainer`` (the loop behind ``zsk train``) for ``spec_path`` on ``data_root``."""
    spec = load_spec(spec_path, [f"data.params.root={data_root}", *overrides])
    build = compose(spec, load_data(spec))
    run_dir.mkdir(parents=True, exist_ok=True)
    return Trainer(build, run_dir, steps=10**9, device=device)


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system
    system: float
    page_faults: int  # minor faults: pages the kernel had to map (and zero) for the process


def timed(action: Callable[[], object]) -> Timing:
    """Wall, CPU and system seconds and page faults of one call."""
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    action()
    wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
    system = after.ru_stime - before.ru_stime
    return Timing(
        wall, after.ru_utime - before.ru_utime + system, system, after.ru_minflt - before.ru_minflt
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (numbers already formatted as strings)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
