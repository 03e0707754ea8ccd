"""What one training step costs: the recommended spec with and without the GAN, and the
hand-written learner, on each zoo set (BENCHMARKS.md §6, "Why").

    python benchmarks/zoo/step_cost.py OUT_DIR [--sets ...] [--steps 20]

For each set, ``zsk init``'s spec (the GAN default and ``--no-gan``, at the image size init
chooses) is built and stepped by zsk's own trainer on the set's training images; the
hand-written learner of benchmarks/zoo/baseline.py is stepped on the same images at the same
size. Reported per step: the FLOPs zsk init counts (its sizing), and the median process CPU
milliseconds over ``--steps`` steps after two warm-up steps (one thread). The last column is the
real images a recognition network is updated on per CPU second: what an equal budget buys.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: the benchmarks folder is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import baseline
from zoo.sets import SETS, write_set
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        "| set | image size | GAN: GFLOP / CPU ms per step | no GAN: GFLOP / CPU ms | "
        "hand-written: CPU ms | real images per CPU s: GAN / no GAN / hand-written |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        data = write_set(name, args.out / "data")
        probe = recommended_spec(data, name, 32, gan=True, epochs=1)
        size = image_size_for(median_side(training_images(probe)), 32)
        gan, plain = (recommended_spec(data, name, size, gan=g, epochs=1) for g in (True, False))
        gan_flops, gan_ms = zsk_step(gan, args.steps)
        plain_flops, plain_ms = zsk_step(plain, args.steps)
        hand_ms = hand_written_step(gan, args.steps)
        rates = (BATCH / gan_ms, BATCH / plain_ms, baseline.BATCH / hand_ms)
        print(
            f"| {name} | {size} | {gan_flops:.2f} / {gan_ms:.0f} | {plain_flops:.2f} / "
            f"{plain_ms:.0f} | {hand_ms:.0f} | "
            + " / ".join(f"{1000 * r:.0f}" for r in rates)
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
