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

Every command is a child process on one thread; CPU seconds are the children's user + system
time. One JSON object per finished (set, seed, method) is appended to ``OUT/results.jsonl``;
a stopped grid continues where it was.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import yaml

from benchmarks.studies import features_route
from benchmarks.studies.results import RESULTS, find, put, read, study_arguments, tabled
from benchmarks.studies.zoo.run import EVAL_ARGS, ZSK, _call, run_baseline, study_record
from benchmarks.studies.zoo.sets import SETS, write_set
from zsk.core.spec.loading import load_spec
from zsk.core.storage.files import write_file

METHODS = ("default", "baseline", "features")
#: The feature GAN of the two-stage route: chosen on validation classes (textures and glyphs,
#: seed 0) among WGAN-GP feature GANs of 200 generator steps: a linear generator, a critic of
#: one hidden layer of 256, 2 critic steps, Adam 1e-3, classifier regulariser β 1.
FEATURE_GAN = {"hidden": 256, "generator_hidden": [], "steps": 200, "lr": 1e-3, "beta": 1.0}
N_CRITIC = 2
#: The fields that name one run in the results file.
KEY = ("set", "seed", "method")


def default_run(data: Path, work: Path, seed: int, cpu_minutes: float) -> dict:
    spec, run_dir, log = work / "default.yaml", work / "default", work / "default.log"
    init = [*ZSK, "init", str(data), "--out", str(spec), "--force", "--seed", str(seed)]
    _call([*init, "--cpu-minutes", str(cpu_minutes)], log)
    _call([*ZSK, "build", str(spec), "--out", str(run_dir), "--force"], log)
    train_cpu = _call([*ZSK, "train", str(run_dir), "--device", "cpu"], log)
    eval_cpu = _call([*ZSK, "eval", str(run_dir), "--device", "cpu", *EVAL_ARGS], log)
    result = study_record(json.loads((run_dir / "eval.json").read_text()))
    batch = yaml.safe_load(spec.read_text())["train"]["batch_size"]
    return {"train_cpu_seconds": train_cpu, "eval_cpu_seconds": eval_cpu, "eval": result,
            "batch_size": batch}  # fmt: skip


def feature_gan_spec(folder: Path, seed: int) -> dict:
    """features_route's f-CLSWGAN-style spec at :data:`FEATURE_GAN`'s settings."""
    old = dict(features_route.FEATURE_MODEL)
    features_route.FEATURE_MODEL.update(FEATURE_GAN)
    try:
        spec = features_route.feature_spec(folder, seed)
    finally:
        features_route.FEATURE_MODEL.clear()
        features_route.FEATURE_MODEL.update(old)
    spec["model"]["generator"]["params"]["hidden"] = FEATURE_GAN["generator_hidden"]
    spec["train"]["n_critic"] = N_CRITIC
    return spec


def features(data: Path, work: Path, seed: int) -> dict:
    """φ(x) of the default run and its validation run; ridge and the feature GAN on them."""
    run, log = work / "default", work / "features.log"
    cpu = features_route.extract(data, run, work / "features", log, "embedding")
    cpu += features_route.extract(data, run / "validation", work / "features-val", log, "embedding")
    holdout = load_spec(work / "default.yaml").validation_run.model_dump(mode="json")
    train_cpu = 0.0
    for name, folder in (("run", work / "features"), ("validation", work / "features-val")):
        spec = work / f"feature-gan-{name}.yaml"
        write_file(spec, yaml.safe_dump(feature_gan_spec(folder, seed)))
        extra = ["--set", f"holdout={json.dumps(holdout)}"] if name == "validation" else []
        out = work / f"feature-gan-{name}"
        _call([*ZSK, "build", str(spec), "--out", str(out), "--force", *extra], log)
        train_cpu += _call([*ZSK, "train", str(out), "--device", "cpu"], log)
    gan, validation = work / "feature-gan-run", work / "feature-gan-validation"
    command = [*ZSK, "eval", str(gan), "--calibrate-with", str(validation), "--device", "cpu"]
    eval_cpu = _call([*command, "--probe-steps", "400"], log)
    return {
        "extract_cpu_seconds": cpu,
        "train_cpu_seconds": train_cpu,
        "eval_cpu_seconds": eval_cpu,
        "eval": study_record(json.loads((gan / "eval.json").read_text())),
        "ridge": features_route.ridge(work, holdout),
        "feature_gan": FEATURE_GAN | {"n_critic": N_CRITIC},
    }


def run_grid(args) -> None:
    results = args.out / RESULTS
    for seed in args.seeds:
        for name in args.sets:
            data = write_set(name, args.out / "data")
            work = args.out / "runs" / f"{name}-s{seed}"
            work.mkdir(parents=True, exist_ok=True)
            for method in args.methods:
                if find(read(results), set=name, seed=seed, method=method):
                    continue
                print(f"{time.strftime('%H:%M:%S')} {name} seed {seed} {method}", flush=True)
                if method == "default":
                    record = default_run(data, work, seed, args.cpu_minutes)
                elif method == "baseline":
                    default = find(read(results), set=name, seed=seed, method="default")
                    if default is None:
                        raise SystemExit(f"{name} seed {seed}: run the default method first")
                    (work / "gan.yaml").write_bytes((work / "default.yaml").read_bytes())
                    record = run_baseline(work, seed, default["train_cpu_seconds"])
                else:
                    record = features(data, work, seed)
                record |= {"set": name, "seed": seed, "method": method,
                           "cpu_minutes": args.cpu_minutes,
                           "machine": platform.processor() or platform.machine(),
                           "finished": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
                put(results, record, KEY)


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (n=1)"
    n = "" if len(values) >= 3 else f" (n={len(values)})"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}{n}"


def routes(record: dict) -> dict[str, tuple[float, float, float]]:
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


def table(path: Path) -> str:
    """Mean ± std over seeds of every route per set; CPU s: mean training process CPU (for
    the φ(x) routes, what they add to the default run)."""
    records = read(path)
    cells: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for record in records:
        for route, values in routes(record).items():
            cells.setdefault((record["set"], route), []).append(values)
    lines = [
        "| set | route | ZSL top-1 | calibrated GZSL H | train CPU s |",
        "|---|---|---|---|---|",
    ]
    for name in SETS:
        for (set_name, route), values in cells.items():
            if set_name != name:
                continue
            zsl, h, cpu = zip(*values, strict=True)
            row = [name, route, _cell(list(zsl)), _cell(list(h)), f"{statistics.mean(cpu):.0f}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


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
