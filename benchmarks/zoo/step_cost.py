"""What one training step costs, per real image: the recommended recogniser (`zsk init`'s
default route), the image GAN (``--route image-gan``) and the hand-written learner, on each zoo
set (BENCHMARKS.md §4).

    python benchmarks/zoo/step_cost.py OUT_DIR [--sets ...] [--rounds 12]

For each set, ``zsk init``'s specs at the image size init chooses are built and stepped by zsk's
own trainer on the set's training images; the hand-written learner of
benchmarks/zoo/baseline.py is stepped on the same images at the same size, in the same process
and thread. The steps are interleaved (rounds of 4 steps of each, after warm-up), so a load
that changes during the measurement falls on all of them alike; each cost is the median
process CPU milliseconds per step. Printed per set: each spec's FLOPs per step (its sizing),
milliseconds per step, real images per CPU second, and the recogniser's rate over the
hand-written learner's (the goal: at least 1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: the benchmarks folder is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import baseline
from zoo.sets import SETS, write_set
from zsk.core.build.composer import compose, load_data
from zsk.core.recommend.init_spec import (
    image_size_for,
    median_side,
    recommended_spec,
    step_flops,
    training_images,
    validated_spec,
)
from zsk.core.recommend.recipes import DEFAULT_ROUTE, ROUTES
from zsk.core.train.loop import Trainer


def interleaved_ms(steps: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median process CPU ms per step of each of ``steps``, measured in alternating rounds."""
    for step in steps.values():
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.process_time()
            for _ in range(4):
                step()
            times[name].append((time.process_time() - start) / 4)
    return {name: 1000 * statistics.median(found) for name, found in times.items()}


def zsk_step(spec: dict) -> Callable[[], None]:
    """One training step of ``spec`` by zsk's trainer, in a folder thrown away afterwards."""
    loaded = validated_spec(spec)
    build = compose(loaded, load_data(loaded))
    folder = tempfile.mkdtemp()
    return Trainer(build, Path(folder), steps=10**6, device="cpu").train_step


def hand_written_step(spec: dict) -> Callable[[], None]:
    """One step of the hand-written learner on ``spec``'s training images."""
    data = load_data(validated_spec(spec))
    paths = [str(s.path) for s in data.train]
    images = baseline.load(paths, spec["model"]["image_size"])
    labels = torch.tensor([s.label for s in data.train])
    _, step = baseline.trainer(images, labels, data.seen, data.attributes, seed=0)
    return step


def measure(name: str, data: Path, rounds: int) -> dict:
    """One set's record: FLOPs, ms and images per CPU second of every learner."""
    probe = recommended_spec(data, name, 32, DEFAULT_ROUTE, epochs=1)
    size = image_size_for(median_side(training_images(probe)), 32)
    specs = {route: recommended_spec(data, name, size, route, epochs=1) for route in ROUTES}
    steps = {route: zsk_step(spec) for route, spec in specs.items()}
    steps["hand-written"] = hand_written_step(specs[DEFAULT_ROUTE])
    milliseconds = interleaved_ms(steps, rounds)
    batches = {route: spec["train"]["batch_size"] for route, spec in specs.items()}
    batches["hand-written"] = baseline.BATCH
    record: dict = {"set": name, "image_size": size}
    for learner, ms in milliseconds.items():
        rate = round(1000 * batches[learner] / ms)
        record[learner] = {
            "batch": batches[learner],
            "ms": round(ms, 2),
            "images_per_cpu_second": rate,
        }
    for route, spec in specs.items():
        record[route]["gflop"] = round(step_flops(spec) / 1e9, 2)
    hand = record["hand-written"]["images_per_cpu_second"]
    record["ratio"] = round(record[DEFAULT_ROUTE]["images_per_cpu_second"] / hand, 3)
    return record


def row(record: dict) -> str:
    cells = [record["set"]]
    for learner in (DEFAULT_ROUTE, "image-gan", "hand-written"):
        found = record[learner]
        flops = f"{found['gflop']:.2f} GFLOP, " if "gflop" in found else ""
        cells.append(f"{flops}{found['ms']:.1f} ms / {found['batch']}: "
                     f"{found['images_per_cpu_second']}")  # fmt: skip
    cells.append(f"{record['ratio']:.2f}")
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| set | recogniser (no-gan route): per step, real images per CPU s | image GAN | "
    "hand-written | recogniser ÷ hand-written |\n|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--table", action="store_true", help="print OUT (a results.jsonl)")
    args = parser.parse_args(argv)
    if args.table:
        records = [json.loads(line) for line in args.out.read_text().splitlines() if line]
        print(HEADER + "\n" + "\n".join(row(r) for r in records))
        return
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    print(HEADER, flush=True)
    for name in args.sets:
        record = measure(name, write_set(name, args.out / "data"), args.rounds)
        with (args.out / "results.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        print(row(record), flush=True)


if __name__ == "__main__":
    main()
