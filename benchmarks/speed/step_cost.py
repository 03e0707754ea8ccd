"""What one training step costs per real image: the recommended recogniser (the first stage of
`zsk init`'s default route; alone, ``--route no-gan``), the image GAN (``--route image-gan``)
and the hand-written learner, on each zoo set (BENCHMARKS.md §4).

    python -m benchmarks.speed.step_cost OUT_DIR [--sets ...] [--rounds 16]
    python -m benchmarks.speed.step_cost --table OUT_DIR/results.jsonl   # the Markdown table

For each set, ``zsk init``'s specs (at the image size init chooses) are built and stepped by
zsk's own trainer on the set's training images; the hand-written learner of
benchmarks/studies/zoo/baseline.py is stepped on the same images at the same size, in the same
process and thread. The steps are interleaved (rounds of 4 steps of each, in alternating order,
after warm-up), so a load that changes during the measurement falls on all of them alike; each
cost is the median process CPU milliseconds per step. Reported per set: each spec's FLOPs per
step (its sizing), the milliseconds per step, the real images per CPU second, and the
recogniser's rate over the hand-written learner's (the goal: at least 1) as the median over
rounds of the two rates measured in the same round, with its quartiles. One record per set in
``OUT_DIR/results.jsonl``.
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
from zsk.core.recommend.recipes import RECOGNISER
from zsk.core.train.loop import Trainer

HAND = "hand-written"
#: The routes whose training steps are measured: the recogniser and the image GAN.
LEARNERS = (RECOGNISER, "image-gan")


def interleaved_ms(steps: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Process CPU ms per step of each of ``steps`` in each round: every round runs 4 steps of
    each, in the given order and the reverse order in turn (so none always follows the same
    one), after warm-up."""
    for step in steps.values():
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index in range(rounds):
        order = list(steps) if index % 2 == 0 else list(reversed(steps))
        for name in order:
            start = time.process_time()
            for _ in range(4):
                steps[name]()
            times[name].append(1000 * (time.process_time() - start) / 4)
    return times


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
    probe = recommended_spec(data, name, 32, RECOGNISER, epochs=1)
    size = image_size_for(median_side(training_images(probe)), 32)
    specs = {route: recommended_spec(data, name, size, route, epochs=1) for route in LEARNERS}
    with tempfile.TemporaryDirectory() as folder:
        steps = {route: zsk_step(spec, Path(folder) / route) for route, spec in specs.items()}
        steps[HAND] = hand_written_step(specs[RECOGNISER])
        rounds_ms = interleaved_ms(steps, rounds)
    batches = {route: spec["train"]["batch_size"] for route, spec in specs.items()}
    batches[HAND] = baseline.BATCH
    record: dict = {"set": name, "image_size": size, "rounds": rounds}
    for learner, found in rounds_ms.items():
        ms = statistics.median(found)
        rate = round(1000 * batches[learner] / ms)
        record[learner] = {"batch": batches[learner], "ms": round(ms, 2), "images_per_s": rate}
    for route, spec in specs.items():
        record[route]["gflop"] = round(step_flops(spec) / 1e9, 2)
    per_round = [
        (batches[RECOGNISER] / ours) / (batches[HAND] / theirs)
        for ours, theirs in zip(rounds_ms[RECOGNISER], rounds_ms[HAND], strict=True)
    ]
    record["ratio"] = round(statistics.median(per_round), 3)
    record["ratio_quartiles"] = [round(q, 3) for q in statistics.quantiles(per_round, n=4)[::2]]
    return record


def table(path: Path) -> str:
    """The step costs of the results file ``path``, one row per set."""
    lines = [
        "| set | recogniser (`zsk init`'s first stage): GFLOP, CPU ms / batch, real images per "
        "CPU s | image GAN "
        "(`--route image-gan`) | hand-written | recogniser ÷ hand-written, median of rounds "
        "(quartiles) |",
        "|---|---|---|---|---|",
    ]
    for r in read(path):
        cells = [r["set"]]
        for learner in (RECOGNISER, "image-gan", HAND):
            found = r[learner]
            flops = f"{found['gflop']:.2f}, " if "gflop" in found else ""
            cells.append(f"{flops}{found['ms']:.1f} / {found['batch']}, {found['images_per_s']}")
        quartiles = r.get("ratio_quartiles")
        spread = f" ({quartiles[0]:.2f}–{quartiles[1]:.2f})" if quartiles else ""
        cells.append(f"**{r['ratio']:.2f}**{spread}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--rounds", type=int, default=16)
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
