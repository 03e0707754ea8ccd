"""What one training step costs per real image: the recommended recogniser (`zsk init`'s
default route), the image GAN (``--route image-gan``) and the hand-written learner, on each zoo
set (BENCHMARKS.md §4).

    python -m benchmarks.speed.step_cost OUT_DIR [--sets ...] [--rounds 12]
    python -m benchmarks.speed.step_cost --table OUT_DIR/results.jsonl   # the Markdown table

For each set, ``zsk init``'s specs (at the image size init chooses) are built and stepped by
zsk's own trainer on the set's training images; the hand-written learner of
benchmarks/studies/zoo/baseline.py is stepped on the same images at the same size, in the same
process and thread. The steps are interleaved (rounds of 4 steps of each, after warm-up), so a
load that changes during the measurement falls on all of them alike; each cost is the median
process CPU milliseconds per step. Reported per set: each spec's FLOPs per step (its sizing),
the milliseconds per step, the real images per CPU second, and the recogniser's rate over the
hand-written learner's (the goal: at least 1). One record per set in ``OUT_DIR/results.jsonl``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.studies.results import RESULTS, put, read, study_arguments, tabled
from benchmarks.studies.zoo import baseline
from benchmarks.studies.zoo.sets import SETS, write_set
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

HAND = "hand-written"


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


def zsk_step(spec: dict, folder: Path) -> Callable[[], None]:
    """One training step of ``spec`` by zsk's trainer, writing nothing into ``folder``."""
    loaded = validated_spec(spec)
    build = compose(loaded, load_data(loaded))
    return Trainer(build, folder, steps=10**6, device="cpu").train_step


def hand_written_step(spec: dict) -> Callable[[], None]:
    """One step of the hand-written learner on ``spec``'s training images."""
    data = load_data(validated_spec(spec))
    paths = [str(s.path) for s in data.train]
    images = baseline.load(paths, spec["model"]["image_size"])
    labels = torch.tensor([s.label for s in data.train])
    _, step = baseline.trainer(images, labels, data.seen, data.attributes, seed=0)
    return step


def measure(name: str, data: Path, rounds: int) -> dict:
    """One set's record: the batch, FLOPs, ms and images per CPU second of every learner."""
    probe = recommended_spec(data, name, 32, DEFAULT_ROUTE, epochs=1)
    size = image_size_for(median_side(training_images(probe)), 32)
    specs = {route: recommended_spec(data, name, size, route, epochs=1) for route in ROUTES}
    with tempfile.TemporaryDirectory() as folder:
        steps = {route: zsk_step(spec, Path(folder) / route) for route, spec in specs.items()}
        steps[HAND] = hand_written_step(specs[DEFAULT_ROUTE])
        milliseconds = interleaved_ms(steps, rounds)
    batches = {route: spec["train"]["batch_size"] for route, spec in specs.items()}
    batches[HAND] = baseline.BATCH
    record: dict = {"set": name, "image_size": size}
    for learner, ms in milliseconds.items():
        rate = round(1000 * batches[learner] / ms)
        record[learner] = {"batch": batches[learner], "ms": round(ms, 2), "images_per_s": rate}
    for route, spec in specs.items():
        record[route]["gflop"] = round(step_flops(spec) / 1e9, 2)
    record["ratio"] = round(record[DEFAULT_ROUTE]["images_per_s"] / record[HAND]["images_per_s"], 3)
    return record


def table(path: Path) -> str:
    """The step costs of the results file ``path``, one row per set."""
    lines = [
        "| set | recogniser (`zsk init`): GFLOP, CPU ms / batch, real images per CPU s | image GAN "
        "(`--route image-gan`) | hand-written | recogniser ÷ hand-written |",
        "|---|---|---|---|---|",
    ]
    for r in read(path):
        cells = [r["set"]]
        for learner in (DEFAULT_ROUTE, "image-gan", HAND):
            found = r[learner]
            flops = f"{found['gflop']:.2f}, " if "gflop" in found else ""
            cells.append(f"{flops}{found['ms']:.1f} / {found['batch']}, {found['images_per_s']}")
        cells.append(f"**{r['ratio']:.2f}**")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    torch.set_num_threads(1)
    for name in args.sets:
        record = measure(name, write_set(name, args.out / "data"), args.rounds)
        put(args.out / RESULTS, record, ("set",))
        print(json.dumps(record), flush=True)
    print(table(args.out / RESULTS))


if __name__ == "__main__":
    main()
