"""How a training step's time and memory grow with batch size and image size (paper config).

    python -m benchmarks.speed.bench_scaling                   # batches 2 4 8 × sizes 32 64 128
    python -m benchmarks.speed.bench_scaling --batches 4 8 16  # another grid (16 at 128 px: slow)
    python -m benchmarks.speed.bench_scaling --quick           # tiny networks, a few seconds

The networks are examples/paper-awa2.yaml's. The generator adapts its depth to the image size
by itself; the paper's trunk (6 stride-2 layers, 128 px → 2×2) only fits 128 px, so at 64 and
32 px its first one and two layers are dropped (its 2×2 output, heads and attention layers stay).

Each point runs in a fresh process (forked after the networks are built, so building is paid
once per image size): it builds the trainer, counts the FLOPs of one training step (the
warm-up, ``torch.utils.flop_counter``), then times full steps (``Trainer.train_step``: D and G
updates) on one thread and reports the median.

Memory is the process's resident set, read from ``/proc/self/status`` (tracemalloc does not
see torch's allocations): ``ready`` is VmRSS with networks and data loaded, before any
step; ``peak`` is VmHWM over all of the point's steps, after resetting it at ``ready`` through
``/proc/self/clear_refs`` (where that is not allowed: ``getrusage``'s maxrss of the process);
``step memory`` = peak − ready: Adam's two moments per weight, the gradients and the
activations autograd keeps for the backward pass. The first two are fixed; the activations
grow with batch and pixels, and the fit per image size separates the two.
GFLOP/s is set against a one-thread fp32 matrix multiply measured on the same machine.

CPU time counts user and kernel time; ``of which kernel`` and ``page faults`` (minor faults per
step) show how much of a step goes to the kernel mapping and zero-filling fresh pages: glibc
returns large freed blocks to the kernel, so every step faults its activations in again. The
largest size's middle batch is measured once more with freed memory kept for reuse
(``malloc: kept``, :func:`zsk.core.train.allocator.keep_freed_memory`) to show what that costs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from benchmarks.speed.common import (
    PAPER_SPEC,
    machine_line,
    median,
    one_thread,
    synth_data,
    table,
    timed,
)
from zsk.core.build.composer import compose, load_data
from zsk.core.spec.loading import load_spec
from zsk.core.train.allocator import keep_freed_memory
from zsk.core.train.loop import Trainer

#: per image size: the trunk the paper's 128-px trunk becomes (first layers dropped)
TRUNKS = {
    128: [],
    64: [
        "model.trunk.params.channels=[64, 128, 256, 512, 1024]",
        "model.trunk.params.dropout_from=2",
    ],
    32: ["model.trunk.params.channels=[128, 256, 512, 1024]", "model.trunk.params.dropout_from=1"],
}
TINY = [
    "model.embedding_dim=16",
    "model.noise_dim=8",
    "model.generator.params.base_channels=8",
    "model.generator.params.max_channels=16",
    "model.trunk.params.dropout_from=1",
    "model.heads.reconstruction_feature.params.channels=8",
    "model.semantic_encoder.params.hidden=[16]",
]
TINY_TRUNKS = {
    16: ["model.trunk.params.channels=[8, 16]"],
    32: ["model.trunk.params.channels=[8, 16, 32]"],
}


def _attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _attention_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


#: torch's FLOP counter knows the CUDA attention kernels but not the CPU's fused one
CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward_flops,
}


@dataclass
class Point:
    size: int
    batch: int
    steps: int
    cpu_s: float
    wall_s: float
    system_s: float
    page_faults: float
    kept_memory: bool
    gflop: float
    ready_mib: float
    peak_mib: float
    memory_method: str

    @property
    def step_mib(self) -> float:
        return self.peak_mib - self.ready_mib


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> str:
    """Reset the kernel's peak-RSS mark; returns the method the peak will be read with."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        status_kib("VmHWM")
        return "VmHWM"
    except (OSError, KeyError):
        return "maxrss"


def peak_kib(method: str) -> int:
    if method == "VmHWM":
        return status_kib("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_child(work: Callable[[], dict]) -> dict:
    """``work()`` in a forked process; its result comes back as JSON through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            payload = {"result": work()}
        except BaseException as exc:  # report any failure to the parent, then exit
            payload = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as pipe:
            pipe.write(json.dumps(payload))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    payload = json.loads(text) if text else {"error": "the measuring process died"}
    if "error" in payload:
        raise RuntimeError(payload["error"])
    return payload["result"]


@dataclass
class PointRequest:
    batch: int
    kept_memory: bool  # glibc keeps freed memory (see zsk.core.train.allocator.keep_freed_memory)
    run_dir: Path
    min_steps: int
    max_steps: int
    budget: float  # more than min_steps only while their CPU seconds stay below this


def measure_point(build, request: PointRequest) -> dict:
    """Runs in the child: a trainer at the batch, a counted warm-up step, then timed steps."""
    batch = request.batch
    kept = request.kept_memory and keep_freed_memory()
    build.spec.train.batch_size = batch
    trainer = Trainer(build, request.run_dir, steps=10**9, device="cpu")
    ready = status_kib("VmRSS")
    method = reset_peak()
    counter = FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS)
    with counter:
        trainer.train_step()
    times = []
    while len(times) < request.max_steps and (
        len(times) < request.min_steps or sum(t.cpu for t in times) < request.budget
    ):
        times.append(timed(trainer.train_step))
    return asdict(
        Point(
            size=build.dims.image_size,
            batch=batch,
            steps=len(times),
            cpu_s=median([t.cpu for t in times]),
            wall_s=median([t.wall for t in times]),
            system_s=median([t.system for t in times]),
            page_faults=median([t.page_faults for t in times]),
            kept_memory=kept,
            gflop=counter.get_total_flops() / 1e9,
            ready_mib=ready / 1024,
            peak_mib=peak_kib(method) / 1024,
            memory_method=method,
        )
    )


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """One-thread fp32 GFLOP/s of a square matrix multiply (median of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return median(rates)


def run(sizes: list[int], batches: list[int], quick: bool, work: Path) -> tuple[list[Point], float]:
    one_thread()
    data = synth_data(work / "data", images_per_class=4)
    steps = (2, 3, 0.5) if quick else (2, 5, 10.0)
    points = []
    for size in sizes:
        extra = TINY + TINY_TRUNKS[size] if quick else TRUNKS[size]
        overrides = [f"data.params.root={data}", f"model.image_size={size}", *extra]
        spec = load_spec(PAPER_SPEC, overrides)
        build = compose(spec, load_data(spec))
        requests = [PointRequest(b, False, work / f"run-{size}-{b}", *steps) for b in batches]
        if size == max(sizes):  # the same point once more, with freed memory kept for reuse
            middle = batches[len(batches) // 2]
            requests.append(PointRequest(middle, True, work / f"run-{size}-kept", *steps))
        for request in requests:
            result = in_child(lambda q=request, n=build: measure_point(n, q))
            points.append(Point(**result))
    return points, matmul_gflops(256 if quick else 1024)


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + c·x``: (a, c, largest relative residual)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    c = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    a = my - c * mx
    worst = max(abs(a + c * x - y) / abs(y) for x, y in zip(xs, ys, strict=True) if y)
    return a, c, worst


#: The table's columns, and each one's cell of a measured point given the matmul peak.
COLUMNS: list[tuple[str, Callable[[Point, float], object]]] = [
    ("px", lambda p, peak: p.size),
    ("batch", lambda p, peak: p.batch),
    ("malloc", lambda p, peak: "kept" if p.kept_memory else "default"),
    ("steps", lambda p, peak: p.steps),
    ("step CPU s", lambda p, peak: f"{p.cpu_s:.2f}"),
    ("of which kernel s", lambda p, peak: f"{p.system_s:.2f}"),
    ("page faults", lambda p, peak: f"{p.page_faults / 1000:.0f}k"),
    ("step wall s", lambda p, peak: f"{p.wall_s:.2f}"),
    ("CPU ms/image", lambda p, peak: f"{1000 * p.cpu_s / p.batch:.0f}"),
    ("GFLOP/step", lambda p, peak: f"{p.gflop:.3g}"),
    ("GFLOP/s", lambda p, peak: f"{p.gflop / p.cpu_s:.3g}"),
    ("of matmul", lambda p, peak: f"{p.gflop / p.cpu_s / peak:.0%}"),
    ("ready MiB", lambda p, peak: f"{p.ready_mib:.0f}"),
    ("peak MiB", lambda p, peak: f"{p.peak_mib:.0f}"),
    ("step memory MiB", lambda p, peak: f"{p.step_mib:.0f}"),
]


def report(points: list[Point], peak_gflops: float) -> str:
    """The table of every point, then what the points say: the kept-memory allocator against
    the default, time and memory as lines in the batch, and the cost of a larger image."""
    rows = [[cell(p, peak_gflops) for _, cell in COLUMNS] for p in points]
    lines = [table([name for name, _ in COLUMNS], rows), ""]
    methods = sorted({p.memory_method for p in points})
    lines.append(
        f"one-thread fp32 matmul: {peak_gflops:.1f} GFLOP/s; peak memory read as "
        + ", ".join(methods)
    )
    default = [p for p in points if not p.kept_memory]
    lines += _kept_memory(points, default) + _batch_fits(default) + _size_ratios(default)
    return "\n".join(lines)


def _kept_memory(points: list[Point], default: list[Point]) -> list[str]:
    lines = []
    for k in (p for p in points if p.kept_memory):
        (d,) = [p for p in default if (p.size, p.batch) == (k.size, k.batch)]
        lines.append(
            f"{k.size} px, batch {k.batch}, freed memory kept for reuse: step CPU time "
            f"×{k.cpu_s / d.cpu_s:.2f}, page faults {d.page_faults / 1000:.0f}k → "
            f"{k.page_faults / 1000:.0f}k, peak memory {k.peak_mib - d.peak_mib:+.0f} MiB"
        )
    return lines


def _batch_fits(points: list[Point]) -> list[str]:
    lines = []
    for size in sorted({p.size for p in points}):
        row = [p for p in points if p.size == size]
        if len(row) < 2:
            continue
        batches = [float(p.batch) for p in row]
        a, c, worst = linear_fit(batches, [p.cpu_s for p in row])
        ma, mc, mworst = linear_fit(batches, [p.step_mib for p in row])
        lines.append(
            f"{size} px: time ≈ {a:.2f} s + {1000 * c:.0f} ms × batch (worst residual "
            f"{worst:.0%}); step memory ≈ {ma:.0f} MiB + {mc:.0f} MiB × batch (worst {mworst:.0%})"
        )
    return lines


def _size_ratios(points: list[Point]) -> list[str]:
    lines = []
    for small, large in itertools.pairwise(sorted({p.size for p in points})):
        pairs = [
            (p, q)
            for p in points
            for q in points
            if p.size == small and q.size == large and p.batch == q.batch
        ]
        if not pairs:
            continue
        time_ratio = median([q.cpu_s / p.cpu_s for p, q in pairs])
        flop_ratio = median([q.gflop / p.gflop for p, q in pairs])
        lines.append(
            f"{small} → {large} px (pixels ×{(large // small) ** 2}): step time ×{time_ratio:.1f}, "
            f"FLOPs ×{flop_ratio:.1f} (median over batches)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny networks, for the test suite")
    parser.add_argument("--batches", type=int, nargs="+", default=None, help="default: 2 4 8")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="default: 32 64 128")
    args = parser.parse_args(argv)
    known = TINY_TRUNKS if args.quick else TRUNKS
    sizes = args.sizes or sorted(known)
    unknown = [s for s in sizes if s not in known]
    if unknown:
        parser.error(f"image sizes must be among {sorted(known)}; got {unknown}")
    batches = args.batches or ([2, 4] if args.quick else [2, 4, 8])
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        points, peak = run(sizes, batches, args.quick, Path(scratch))
    print(report(points, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
