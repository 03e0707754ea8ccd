"""Data-path throughput on one core: JPEG decoding with and without draft, and prepared batches.

    python -m benchmarks.speed.bench_data            # full run, a few seconds per row
    python -m benchmarks.speed.bench_data --quick    # tiny run (what the test suite runs)

Rows (images per second, median of several runs, one thread):

- plain PIL: open, full decode, convert to RGB, resize 800×600 -> SIZE×SIZE;
- zsk decode: :func:`zsk.core.data.images.decode` (JPEG draft mode, then resize);
- bare copy: allocating a float batch and converting uint8 into it, nothing else: the
  machine's memory-bound ceiling for any float batch (a shared or busy machine lowers it);
- prepared batches: random batches from a uint8 memory-mapped ``.npy`` (the prepared file),
  converted to float in [-1, 1] by :class:`zsk.core.data.loader.BatchStream`.

Targets: zsk decode ≥ 2× plain PIL; prepared batches ≥ 30,000 images/s at 128×128.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from zsk.core.data.images import decode
from zsk.core.data.loader import BatchStream
from zsk.core.storage.files import writing


def make_photo(path: Path, width: int, height: int) -> Path:
    """A JPEG with photo-like content (smooth gradients, mild sensor noise), quality 90."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack(
        [128 + 100 * np.sin(xs / 57 + c) * np.cos(ys / 43 - c) for c in range(3)], axis=-1
    )
    pixels += rng.normal(0, 4, size=pixels.shape)
    with writing(path, durable=False) as temporary:
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(temporary, quality=90)
    return path


def plain_pil(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    return np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR))


def rate(work: Callable[[], int], repeats: int) -> float:
    """Median images per second of ``repeats`` timed calls; ``work`` returns images done."""
    work()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = work()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def run(quick: bool) -> list[tuple[str, float, str]]:
    torch.set_num_threads(1)
    size = 32 if quick else 128
    width, height = (160, 120) if quick else (800, 600)
    files = 3 if quick else 40
    repeats = 3 if quick else 7
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp) / "photo.jpg", width, height)

        def decode_plain() -> int:
            for _ in range(files):
                plain_pil(photo, size)
            return files

        def decode_zsk() -> int:
            for _ in range(files):
                decode(photo, size)
            return files

        plain = rate(decode_plain, repeats)
        fast = rate(decode_zsk, repeats)
        rows.append((f"plain PIL {width}×{height} -> {size}", plain, ""))
        rows.append((f"zsk decode (draft) -> {size}", fast, f"{fast / plain:.1f}× plain"))

        count = 256 if quick else 4096
        array = np.lib.format.open_memmap(
            Path(tmp) / "images.npy", mode="w+", dtype=np.uint8, shape=(count, 3, size, size)
        )
        array[:] = np.random.default_rng(0).integers(0, 256, size=array.shape, dtype=np.uint8)
        array.flush()
        mapped = torch.from_numpy(np.load(Path(tmp) / "images.npy", mmap_mode="c"))
        stream = BatchStream(mapped, torch.zeros(count, dtype=torch.int64), 64, seed=0)

        def batches() -> int:
            done = 0
            for images, _ in stream:
                done += len(images)
            return done

        prepared = rate(batches, repeats)
        source = torch.zeros(64, 3, size, size, dtype=torch.uint8)

        def bare_copy() -> int:
            done = 0
            for _ in range(count // 64):
                torch.empty(source.shape, dtype=torch.float32).copy_(source)
                done += 64
            return done

        ceiling = rate(bare_copy, repeats)
        rows.append((f"bare uint8->float copy {size}×{size}", ceiling, "memory-bound ceiling"))
        note = f"{prepared / ceiling:.0%} of the ceiling"
        rows.append((f"prepared batches {size}×{size} -> float", prepared, note))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    print(f"{'path':<40} {'images/s':>12}  note")
    for name, value, note in rows:
        print(f"{name:<40} {value:>12,.0f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
