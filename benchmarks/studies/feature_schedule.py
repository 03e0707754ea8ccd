"""Time to a result of a feature run at the field's sizes on the CPU (BENCHMARKS.md §7).

    python -m benchmarks.studies.feature_schedule OUT curve [--steps 50,100,200] [--set K=V]
    python -m benchmarks.studies.feature_schedule OUT curve --extend --steps 1600 [--name NAME]
    python -m benchmarks.studies.feature_schedule OUT test --at S [--seeds 0,1,2] [--set K=V]
    python -m benchmarks.studies.feature_schedule OUT ridge
    python -m benchmarks.studies.feature_schedule --table OUT/results.jsonl

The data is the AwA2-sized synthetic set of ``benchmarks.speed.bench_features`` (13 of its 40
seen classes are its validation classes, as AwA2's ``val_loc``); the spec is
examples/fclswgan-awa2-xlsa17.yaml with its data section pointed at that set and ``--set``
overrides (a cheaper variant; ``--name`` keeps its results apart). Both are built as ``zsk
build`` builds them: the run and its validation run, which holds the validation classes out.

- ``curve`` trains the validation run (training seed 0) and, at each step count of ``--steps``,
  scores it on validation data only: ZSL top-1 among the held-out classes and GZSL H with the
  best constant, of a classifier fitted as ``zsk eval`` fits one (real features of the trained
  classes plus 300 generated features per held-out class, 30 epochs: the published counts).
- ``test`` trains the run itself to ``--at`` steps for each seed and evaluates it as ``zsk eval``
  does, with the curve's validation run at that step choosing the calibration constant, the
  generated features per class and the classifier's epochs (one validation run for every seed).
- ``ridge`` is the baseline on the curve's data: ridge regression from features to attributes,
  λ and the GZSL constant chosen on the validation run's held-out data, then tested.

Process CPU seconds (one thread unless --threads). The runs live in OUT/NAME; the curve, test
and ridge records of every NAME in OUT/results.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from benchmarks.speed.bench_features import AWA2_SIZED, EXAMPLE
from benchmarks.studies.features_route import ridge_baseline
from benchmarks.studies.results import (
    RESULTS,
    find,
    markdown_table,
    put,
    read,
    study_arguments,
    tabled,
)
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.calibration import holdout_images
from zsk.core.evaluate.evaluator import evaluate
from zsk.core.evaluate.generative import Imagining, validation_classifier
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.protocol import calibrate, zsl_top1
from zsk.core.evaluate.result import write_eval
from zsk.core.evaluate.trained import TrainedRun, load_trained
from zsk.core.rundir.building import build_run
from zsk.core.rundir.directory import load_run
from zsk.core.rundir.validation_run import companion, validation_dir
from zsk.core.train.checkpoint import list_checkpoints, step_of
from zsk.core.train.loop import Trainer
from zsk.registry import hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin
from zsk.testing.features import SyntheticFeatures

CPU = torch.device("cpu")
#: the validation curve's classifier: f-CLSWGAN's published counts for AwA
PER_CLASS, EPOCHS = 300, 30


PLUGIN = "feature-schedule"


def register_data() -> None:
    """Register the synthetic set's data set plugin in this process (again: replaced)."""
    unregister_plugin(PLUGIN)

    @hookimpl
    def zsk_register_components(register):
        register(SyntheticFeatures)

    register_plugin(SimpleNamespace(zsk_register_components=zsk_register_components), PLUGIN)


def overrides(extra: list[str], seed: int, data: dict | None = None) -> list[str]:
    """The example pointed at the synthetic set, with training seed ``seed``, every
    checkpoint kept, and ``extra`` (``--set``) last."""
    data = {"type": SyntheticFeatures.name, "params": data or AWA2_SIZED}
    return [
        f"data={json.dumps(data)}",
        f"train.seed={seed}",
        "train.keep_checkpoints=100",
        "train.checkpoint_every=1000000",
        "train.log_every=1000000",
        *extra,
    ]


def build(run_dir: Path, sets: list[str]) -> Path:
    """``zsk build``: the run in ``run_dir`` and its validation run; returns the latter."""
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time
    build_run(EXAMPLE, sets, run_dir, record_latest=False)
    found = companion(run_dir)
    if found is None:
        raise SystemExit(f"{EXAMPLE} has no validation_run section")
    return found


def train_to(run_dir: Path, steps: int, built=None) -> tuple[object, float]:
    """Train (or resume) ``run_dir`` to ``steps``; its build and the CPU seconds it took."""
    built = built if built is not None else load_run(run_dir)
    cpu = time.process_time()
    Trainer(built, run_dir, steps=steps, device="cpu", resume=True).fit()
    return built, time.process_time() - cpu


def validation_quality(trained: TrainedRun, seed: int = 0) -> dict[str, float]:
    """ZSL top-1 and GZSL u, s, H (best constant) on a validation run's held-out data."""
    data = trained.build.data
    held = holdout_images(trained)
    fit = LabelledImages(*load_split_images(data, "train", trained.build.dims.image_size))
    how = Imagining(PER_CLASS, CPU, 128, seed, EPOCHS)
    _, scores = validation_classifier(trained.build.gan, data, fit, held, how)
    labels = held.images.labels
    unseen = torch.isin(labels, torch.tensor(held.unseen))
    calibration = calibrate(scores, labels, held.seen, held.unseen)
    return {
        "zsl_top1": zsl_top1(scores[unseen], labels[unseen], held.unseen),
        "gamma": calibration.gamma,
        "val_u": calibration.u,
        "val_s": calibration.s,
        "val_h": calibration.h,
    }


def machine() -> dict[str, object]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def curve(out: Path, steps: list[int], sets: list[str], extend: bool = False) -> dict:
    """The validation curve (see module) of the settings ``out`` names; ``extend`` continues
    its recorded curve to more steps."""
    results, key = out.parent / RESULTS, {"kind": "curve", "name": out.name}
    if extend:
        record = find(read(results), **key)
        if record is None:
            raise SystemExit(f"{results} has no curve {out.name} to extend")
        valdir = validation_dir(out / "seed0")
        steps = [s for s in steps if s > record["points"][-1]["step"]]
    else:
        record = {**key, "settings": sets, "data": AWA2_SIZED, "points": []}
        valdir = build(out / "seed0", overrides(sets, 0))
    built, spent = None, record["points"][-1]["train_cpu_seconds"] if extend else 0.0
    for target in steps:
        built, cpu = train_to(valdir, target, built)
        spent += cpu
        clock = time.process_time()
        trained = load_trained(valdir, built)
        quality = validation_quality(trained)
        point = {"step": target, "train_cpu_seconds": spent, **quality}
        point["eval_cpu_seconds"] = time.process_time() - clock
        record["points"].append(point)
        print(json.dumps(point), flush=True)
        put(results, record | machine(), ("kind", "name"))
    return record


def calibration_run(out: Path, step: int) -> Path:
    """The curve's validation run as it was at ``step`` (links to its files, that checkpoint
    the newest), for ``zsk eval --calibrate-with``."""
    source, target = validation_dir(out / "seed0"), out / f"validation-at-{step}"
    chosen = [path for path in list_checkpoints(source) if step_of(path) == step]
    if not chosen:
        raise SystemExit(f"{source} has no checkpoint at step {step}: run curve with it first")
    shutil.rmtree(target, ignore_errors=True)
    links = [path for path in source.iterdir() if path.is_file() and path.name[0] != "."]
    links += list(chosen[0].parent.glob(f"{chosen[0].stem}.*"))
    for path in links:
        place = target / path.relative_to(source)
        place.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, place)
    return target


def test(out: Path, at: int, seeds: list[int], sets: list[str]) -> dict:
    calibrate_with = calibration_run(out, at)
    runs = []
    for seed in seeds:
        run_dir = out / f"test-{at}-seed{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time
        build_run(EXAMPLE, overrides(sets, seed), run_dir, record_latest=False)
        built, cpu = train_to(run_dir, at)
        clock = time.process_time()
        options = EvalOptions(probe_steps=400, seed=seed, calibration_run=calibrate_with)
        result = evaluate(load_trained(run_dir, built), options, CPU)
        write_eval(run_dir, result)
        generative = result.routes["generative"]
        runs.append(
            {
                "seed": seed,
                "zsl_top1": generative.zsl_top1,
                "gzsl": {"u": generative.gzsl.u, "s": generative.gzsl.s, "h": generative.gzsl.h},
                "calibration": generative.gzsl.calibration.model_dump(),
                "features_per_class": generative.images_per_class,
                "classifier_epochs": generative.classifier_epochs,
                "train_cpu_seconds": cpu,
                "eval_cpu_seconds": time.process_time() - clock,
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    zsl = [r["zsl_top1"] for r in runs]
    h = [r["gzsl"]["h"] for r in runs]
    record = {
        "kind": "test",
        "name": out.name,
        "settings": sets,
        "data": AWA2_SIZED,
        "steps": at,
        "calibrated_with": str(calibrate_with),
        "runs": runs,
        "zsl_top1": {"mean": statistics.mean(zsl), "sd": _sd(zsl)},
        "gzsl_h": {"mean": statistics.mean(h), "sd": _sd(h)},
    }
    put(out.parent / RESULTS, record | machine(), ("kind", "name", "steps"))
    return record


def ridge(out: Path) -> dict:
    """The ridge baseline on the curve's data: λ and the constant chosen on its validation
    run's held-out data, then tested (features_route.ridge_baseline)."""
    clock = time.process_time()
    data, val = load_run(out / "seed0").data, load_run(validation_dir(out / "seed0")).data
    result = ridge_baseline(val, data) | {"cpu_seconds": time.process_time() - clock}
    record = {"kind": "ridge", "name": out.name, **result, **machine()}
    put(out.parent / RESULTS, record, ("kind", "name"))
    return result


def _sd(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None  # one seed: no spread


def _cell(summary: dict) -> str:
    if summary["sd"] is None:
        return f"{summary['mean']:.3f} (one seed)"
    return f"{summary['mean']:.3f} ± {summary['sd']:.3f}"


def table(path: Path) -> str:
    """Markdown rows of every curve, test and ridge record of the results file ``path``."""
    records = read(path)
    of = {kind: [r for r in records if r["kind"] == kind] for kind in ("curve", "test", "ridge")}
    curves = markdown_table(
        ("settings", "step", "validation ZSL top-1", "validation H", "train CPU s"),
        (
            (
                r["name"],
                p["step"],
                f"{p['zsl_top1']:.3f}",
                f"{p['val_h']:.3f}",
                f"{p['train_cpu_seconds']:.0f}",
            )  # fmt: skip
            for r in of["curve"]
            for p in r["points"]
        ),
    )
    tests = markdown_table(
        ("settings", "steps", "seeds", "test ZSL top-1", "test GZSL H", "train CPU s"),
        (
            (
                r["name"],
                r["steps"],
                len(r["runs"]),
                _cell(r["zsl_top1"]),
                _cell(r["gzsl_h"]),
                f"{statistics.mean(run['train_cpu_seconds'] for run in r['runs']):.0f}",
            )  # fmt: skip
            for r in of["test"]
        ),
    )
    ridges = markdown_table(
        ("settings", "baseline", "test ZSL top-1", "test GZSL H", "λ"),
        (
            (
                r["name"],
                "ridge",
                f"{r['zsl_top1']:.3f}",
                f"{r['gzsl']['h']:.3f}",
                f"{r['lambda']:g}",
            )
            for r in of["ridge"]
        ),
    )
    return "\n\n".join((curves, tests, ridges))


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("action", nargs="?", choices=("curve", "test", "ridge"))
    parser.add_argument("--name", default="published")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--steps", default="50,100,200,400,800")
    parser.add_argument("--at", type=int)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--extend", action="store_true", help="continue OUT's curve")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU s still add up)")
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    torch.set_num_threads(args.threads)
    register_data()
    out = args.out / args.name
    if args.action == "curve":
        curve(out, [int(s) for s in args.steps.split(",")], args.sets, args.extend)
    elif args.action == "ridge":
        print(json.dumps(ridge(out), indent=2))
    elif args.action == "test" and args.at:
        test(out, args.at, [int(s) for s in args.seeds.split(",")], args.sets)
    else:
        parser.error("give curve, test --at S, or --table")


if __name__ == "__main__":
    main()
