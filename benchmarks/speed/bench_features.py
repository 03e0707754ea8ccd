"""A feature run at the field's sizes on the CPU (BENCHMARKS.md §7): steps/s, time to a result.

    python -m benchmarks.speed.bench_features OUT [--steps 40] [--threads 1]

The data is synthetic but AwA2-sized (``AWA2_SIZED``, zsk.testing.features): 30,000 2048-d
non-negative features of 50 classes (40 seen, 13 of them validation classes; 10 unseen) with 85
continuous attributes per class, split about as the proposed split's shares (trainval 64%,
test seen 16%, test unseen 20%). The networks and settings are
examples/fclswgan-awa2-xlsa17.yaml's (f-CLSWGAN: 4096 hidden, batch 64, 5 critic steps, the
classifier regulariser). It trains ``--steps`` generator steps (each after 5 critic steps),
then runs ``zsk eval``'s evaluation (self-calibrated: no validation run) with the published
300 generated features per unseen class and 30 classifier epochs (``zsk eval`` by default
chooses among 6 such pairs on a validation run, about 6 × the classifier part), and writes the
process CPU and wall seconds of each part as a line of OUT/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from benchmarks.studies.results import RESULTS, put
from zsk.core.build.composer import compose
from zsk.core.components.zsl_data import ZslData
from zsk.core.evaluate.evaluator import evaluate
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.trained import TrainedRun
from zsk.core.spec.loading import load_spec
from zsk.core.train.checkpoint import find_latest
from zsk.core.train.loop import Trainer
from zsk.testing.features import synthetic_features

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fclswgan-awa2-xlsa17.yaml"
#: AwA2's sizes (50 classes, 10 unseen, 13 of the 40 seen its validation classes as in
#: val_loc, 85 attributes, 2048-d features; 600 per class: 30,000) and a difficulty at which
#: zero-shot learning is far from solved: ridge regression from features to attributes reaches
#: a ZSL top-1 of 0.40 on its test classes (BENCHMARKS.md §7)
AWA2_SIZED = {
    "classes": 50,
    "unseen": 10,
    "validation": 13,
    "attributes": 85,
    "feature_dim": 2048,
    "per_class": 600,
    "test_share": 0.2,
    "noise": 4.5,
    "offset": 0.6,
    "seed": 0,
}
DIM, COUNT = AWA2_SIZED["feature_dim"], AWA2_SIZED["classes"] * AWA2_SIZED["per_class"]
#: f-CLSWGAN's AwA schedule: 30 of its epochs over AwA2's 23,527 trainval features at batch 64
PUBLISHED_GENERATOR_STEPS = 30 * math.ceil(23_527 / 64)


def awa2_sized() -> ZslData:
    """The AwA2-sized synthetic set (:data:`AWA2_SIZED`)."""
    return synthetic_features(**AWA2_SIZED, root=Path("awa2-sized-synthetic"))


def timed(action):
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = awa2_sized()
    spec = load_spec(EXAMPLE)
    spec.train.log_every = args.steps
    build = compose(spec, data)
    run_dir = args.out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time
    trainer = Trainer(build, run_dir, steps=args.steps, device="cpu")
    prepared = [0.0]  # CPU seconds of the regulariser's classifier fit, a one-off before step 1
    for _, loss in build.objective.named_losses():

        def prepare(real, labels, fit=loss.prepare):
            _, cpu, _ = timed(lambda: fit(real, labels))
            prepared[0] += cpu

        loss.prepare = prepare
    _, train_cpu, train_wall = timed(trainer.run)
    train_cpu -= prepared[0]
    trained = TrainedRun(run_dir, build, find_latest(run_dir))
    build.gan.eval()
    options = EvalOptions(images_per_class=(300,), classifier_epochs=(30,), probe_steps=400)
    result, eval_cpu, eval_wall = timed(lambda: evaluate(trained, options, torch.device("cpu")))
    per_step = train_cpu / args.steps
    record = {
        "features": COUNT,
        "dim": DIM,
        "train_samples": len(data.train),
        "threads": args.threads,
        "steps": args.steps,
        "classifier_pretraining_cpu_seconds": prepared[0],
        "train_cpu_seconds": train_cpu,
        "train_wall_seconds": train_wall,
        "generator_steps_per_cpu_second": 1 / per_step,
        "critic_samples_per_cpu_second": 64 * 5 / per_step,
        "published_schedule_steps": PUBLISHED_GENERATOR_STEPS,
        "published_schedule_cpu_hours": PUBLISHED_GENERATOR_STEPS * per_step / 3600,
        "eval_cpu_seconds": eval_cpu,
        "eval_wall_seconds": eval_wall,
        "eval_images_per_class": result.routes["generative"].images_per_class,
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    put(args.out / RESULTS, record, ("features", "steps", "threads"))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
