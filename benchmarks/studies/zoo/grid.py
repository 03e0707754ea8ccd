"""The zoo grid of the recommended spec: `zsk init`'s default beside a hand-written learner at
the same process CPU, ridge regression on the default's own embeddings φ(x), and a feature GAN
trained on them (the two-stage route, on top of the default run).

    python -m benchmarks.studies.zoo.grid OUT [--sets ...] [--seeds 0 1 2] [--cpu-minutes 0.4]
        [--methods default baseline features]
    python -m benchmarks.studies.zoo.grid --table OUT/results.jsonl

For every set and training seed, on one split:

- ``default``: ``zsk init DATA --cpu-minutes M --seed S`` (its default route), ``zsk build``,
  ``zsk train`` (the run and its validation run, one process), ``zsk eval`` (GZSL calibrated
  on the validation run's held-out classes);
- ``baseline``: benchmarks/studies/zoo/baseline.py (no zsk) given the process CPU seconds that
  ``zsk train`` spent for ``default``, its own validation model included;
- ``features``: ``zsk data features --layer embedding`` of the default run and of its
  validation run; ridge regression from φ(x) to class attributes (λ and the GZSL constant
  chosen on the validation run's held-out classes); a feature GAN (:data:`FEATURE_GAN`) on
  the run's φ(x) and its validation run on the validation run's φ(x), ``zsk eval
  --calibrate-with`` (generated features per class and classifier epochs chosen there too).

The table adds the two-stage route's own headline per seed (:data:`TWO_STAGE`): the default's
embedding route or the feature GAN, whichever has the higher validation H, at both stages' CPU.

Every command is a child process on one thread; CPU seconds are the children's user + system
time. One JSON object per finished (set, seed, method) is appended to ``OUT/results.jsonl``;
a stopped grid continues where it was.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.studies import features_route
from benchmarks.studies.results import (
    RESULTS,
    RouteNumbers,
    finished,
    put,
    read,
    routes_table,
    study_arguments,
    tabled,
)
from benchmarks.studies.zoo.run import (
    pending,
    recorded,
    run_baseline,
    run_zsk,
)
from benchmarks.studies.zoo.sets import SETS
from zsk.core.spec.loading import load_spec

METHODS = ("default", "baseline", "features")
#: The feature GAN of the two-stage route: chosen on validation classes (textures and glyphs,
#: seed 0) among WGAN-GP feature GANs of 200 generator steps: a linear generator, a critic of
#: one hidden layer of 256, 2 critic steps, Adam 1e-3, classifier regulariser β 1
#: (``features_route.FEATURE_MODEL``'s keys).
FEATURE_GAN = {
    "hidden": 256,
    "generator_hidden": [],
    "n_critic": 2,
    "steps": 200,
    "lr": 1e-3,
    "beta": 1.0,
}
#: The fields that name one run in the results file.
KEY = ("set", "seed", "method")


def features(data: Path, work: Path, seed: int) -> dict:
    """φ(x) of the default run and its validation run; ridge and the feature GAN on them."""
    run, log = work / "default", work / "features.log"
    cpu = features_route.extract(data, run, work / "features", log, "embedding")
    cpu += features_route.extract(data, run / "validation", work / "features-val", log, "embedding")
    holdout = load_spec(work / "default.yaml").validation_run.model_dump(mode="json")
    gan = features_route.feature_route(work, seed, holdout, FEATURE_GAN, "feature-gan")
    return {
        "extract_cpu_seconds": cpu,
        **gan,
        "ridge": features_route.ridge(work, holdout),
        "feature_gan": FEATURE_GAN,
    }


def run_grid(args) -> None:
    for name, seed, method, data, work in pending(args):
        if method == "default":
            record = run_zsk(data, work, "default", seed, args.cpu_minutes)
        elif method == "baseline":
            default = recorded(args.out, name, seed, "default")
            (work / "gan.yaml").write_bytes((work / "default.yaml").read_bytes())
            record = run_baseline(work, seed, default["train_cpu_seconds"])
        else:
            record = features(data, work, seed)
        record |= {"set": name, "seed": seed, "method": method, "cpu_minutes": args.cpu_minutes}
        put(args.out / RESULTS, finished(record), KEY)


def routes(record: dict) -> dict[str, RouteNumbers]:
    """(ZSL top-1, calibrated GZSL H, CPU s) of each route one record holds."""
    method = record["method"]
    if method == "baseline":
        found = record["baseline"]
        return {
            "hand-written": (found["zsl_top1"], found["gzsl"]["h"], record["train_cpu_seconds"])
        }
    if method == "default":
        found = record["eval"]
        cpu = record["train_cpu_seconds"]
        return {"zsk init default": (found["zsl_top1"], found["gzsl"]["h"], cpu)}
    generative, ridge = record["eval"]["generative"], record["ridge"]
    gan_cpu = record["extract_cpu_seconds"] + record["train_cpu_seconds"]
    ridge_cpu = record["extract_cpu_seconds"] + ridge["cpu_seconds"]
    return {
        "feature GAN on its φ(x), CPU added": (
            generative["zsl_top1"],
            generative["gzsl"]["h"],
            gan_cpu,
        ),
        "ridge on its φ(x), CPU added": (ridge["zsl_top1"], ridge["gzsl"]["h"], ridge_cpu),
    }


#: The two-stage route's own result: of the default run's embedding route and the feature GAN
#: on its φ(x), the one with the higher validation H (what ``zsk eval`` of a two-stage run names
#: its headline), with the CPU of both stages.
TWO_STAGE = "two-stage headline (by validation H), both stages' CPU"


def two_stage(default: dict, features: dict) -> RouteNumbers:
    """The two-stage route's headline numbers from one seed's default and features records."""
    embedding, generative = default["eval"], features["eval"]["generative"]
    chosen = embedding
    if generative["gzsl"]["calibration"]["val_h"] > embedding["gzsl"]["calibration"]["val_h"]:
        chosen = generative
    cpu = (
        default["train_cpu_seconds"]
        + features["extract_cpu_seconds"]
        + features["train_cpu_seconds"]
    )
    return chosen["zsl_top1"], chosen["gzsl"]["h"], cpu


def table(path: Path) -> str:
    """Mean ± std over seeds of every route per set, the sets in :data:`SETS`' order; CPU s:
    mean training process CPU (for the φ(x) routes, what they add to the default run)."""
    cells: dict[tuple[str, str], list[RouteNumbers]] = {}
    records = read(path)
    for record in records:
        for route, numbers in routes(record).items():
            cells.setdefault((record["set"], route), []).append(numbers)
    by_run = {(r["set"], r["seed"], r["method"]): r for r in records}
    for (name, seed, method), record in by_run.items():
        if method == "features" and (name, seed, "default") in by_run:
            numbers = two_stage(by_run[name, seed, "default"], record)
            cells.setdefault((name, TWO_STAGE), []).append(numbers)
    in_order = sorted(cells.items(), key=lambda cell: list(SETS).index(cell[0][0]))
    return routes_table(dict(in_order), "calibrated GZSL H", "train CPU s")


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", choices=METHODS, default=list(METHODS))
    parser.add_argument("--cpu-minutes", type=float, default=0.4)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    run_grid(args)


if __name__ == "__main__":
    main()
