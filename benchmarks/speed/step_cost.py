"""What one training step costs: the recommended spec with and without the GAN, and the
hand-written learner, on each zoo set (BENCHMARKS.md §6, "Why").

    python -m benchmarks.speed.step_cost OUT_DIR [--sets ...] [--steps 20]
    python -m benchmarks.speed.step_cost --table OUT_DIR/results.jsonl   # the Markdown table

For each set, ``zsk init``'s spec (the GAN default and ``--no-gan``, at the image size init
chooses) is built and stepped by zsk's own trainer on the set's training images; the
hand-written learner of benchmarks/studies/zoo/baseline.py is stepped on the same images at the same
size. Reported per step: the FLOPs zsk init counts (its sizing), and the median process CPU
milliseconds over ``--steps`` steps after two warm-up steps (one thread). The last column is the
real images a recognition network is updated on per CPU second: what an equal budget buys.
One record per set in ``OUT_DIR/results.jsonl``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.studies.results import RESULTS, put, read, study_arguments, tabled
from benchmarks.studies.zoo import baseline
from benchmarks.studies.zoo.sets import SETS, write_set
from zsk.core.build.composer import compose, load_data
from zsk.core.recommend.init_spec import (
    BATCH,
    image_size_for,
    median_side,
    recommended_spec,
    step_flops,
    training_images,
    validated_spec,
)
from zsk.core.train.loop import Trainer


def _median_ms(step, steps: int) -> float:
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return 1000 * statistics.median(times)


def zsk_step(spec: dict, steps: int) -> tuple[float, float]:
    """(GFLOP zsk init counts, median CPU ms) of one training step of ``spec``."""
    loaded = validated_spec(spec)
    build = compose(loaded, load_data(loaded))
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(build, Path(folder), steps=steps + 2, device="cpu")
        milliseconds = _median_ms(trainer.train_step, steps)
    return step_flops(spec) / 1e9, milliseconds


def hand_written_step(spec: dict, steps: int) -> float:
    """Median CPU ms of one step of the hand-written learner on ``spec``'s training images."""
    data = load_data(validated_spec(spec))
    paths = [str(s.path) for s in data.train]
    images = baseline.load(paths, spec["model"]["image_size"])
    labels = torch.tensor([s.label for s in data.train])
    _, step = baseline.trainer(images, labels, data.seen, data.attributes, seed=0)
    return _median_ms(step, steps)


def table(path: Path) -> str:
    """The step costs of the results file ``path``, one row per set."""
    lines = [
        "| set | image size | GAN: GFLOP / CPU ms per step | no GAN: GFLOP / CPU ms | "
        "hand-written: CPU ms | real images per CPU s: GAN / no GAN / hand-written |",
        "|---|---|---|---|---|---|",
    ]
    for r in read(path):
        ms = (r["gan_ms"], r["nogan_ms"], r["hand_written_ms"])
        rates = (BATCH / ms[0], BATCH / ms[1], baseline.BATCH / ms[2])
        lines.append(
            f"| {r['set']} | {r['image_size']} | {r['gan_gflop']:.2f} / {ms[0]:.0f} "
            f"| {r['nogan_gflop']:.2f} / {ms[1]:.0f} | {ms[2]:.0f} | "
            + " / ".join(f"{1000 * rate:.0f}" for rate in rates)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    torch.set_num_threads(1)
    for name in args.sets:
        data = write_set(name, args.out / "data")
        probe = recommended_spec(data, name, 32, gan=True, epochs=1)
        size = image_size_for(median_side(training_images(probe)), 32)
        gan, plain = (recommended_spec(data, name, size, gan=g, epochs=1) for g in (True, False))
        gan_flops, gan_ms = zsk_step(gan, args.steps)
        plain_flops, plain_ms = zsk_step(plain, args.steps)
        hand_ms = hand_written_step(gan, args.steps)
        record = {
            "set": name,
            "image_size": size,
            "gan_gflop": gan_flops,
            "gan_ms": gan_ms,
            "nogan_gflop": plain_flops,
            "nogan_ms": plain_ms,
            "hand_written_ms": hand_ms,
        }
        put(args.out / RESULTS, record, ("set",))
        print(json.dumps(record), flush=True)
    print(table(args.out / RESULTS))


if __name__ == "__main__":
    main()
