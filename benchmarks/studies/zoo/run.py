"""The zoo benchmark: every set × training seed × method, resumable, one JSON line per run.

    python -m benchmarks.studies.zoo.run OUT_DIR [--sets ...] [--seeds 0 1 2] [--cpu-minutes 0.4]
    python -m benchmarks.studies.zoo.table OUT_DIR/results.jsonl   # BENCHMARKS.md §6's tables

Methods, each on the same data and split:

- ``gan``: ``zsk init DATA --route image-gan`` (the image GAN, sized to the data and
  ``--cpu-minutes``), ``zsk build``, ``zsk train`` (the run and its validation run), ``zsk
  eval`` (GZSL calibrated on the validation run's held-out classes);
- ``nogan``: ``zsk init --route no-gan``: the recogniser at the same budget;
- ``baseline``: benchmarks/studies/zoo/baseline.py (no zsk), given the process CPU seconds that
  ``zsk train`` took for ``gan``, its validation model included.

Every command is a child process on one thread; CPU seconds are the children's user + system
time (getrusage). A finished run's record is kept in ``OUT_DIR/results.jsonl``, so a stopped
benchmark continues where it was.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from benchmarks.studies.results import RESULTS, find, finished, put, read
from benchmarks.studies.zoo.sets import DATA_SEED, SETS, write_set

HERE = Path(__file__).resolve().parent
ZSK = [str(Path(sys.executable).parent / "zsk")]
METHODS = ("gan", "nogan", "baseline")
#: The fields that name one run in the results file.
KEY = ("set", "method", "seed")
#: Judging imagined images: probe steps and images per class, lighter than zsk eval's defaults
#: to keep the whole zoo cheap (the probe's accuracy on real unseen images is the yardstick).
EVAL_ARGS = ["--probe-steps", "400", "--images-per-class", "24"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_logged(command: list[str], log: Path, env: dict[str, str] | None = None) -> float:
    """Run ``command``, appending its output to ``log``; its process CPU seconds (user and
    system, every thread). ``env`` defaults to this process's environment pinned to one
    thread."""
    if env is None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = _children_cpu()
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed with {done.returncode}; see {log}")
    return _children_cpu() - before


def write_manifest(spec: Path, out: Path) -> None:
    """The split zsk's run uses (and its validation run's), for the baseline to read."""
    from zsk.core.build.composer import load_data
    from zsk.core.data.holdout import apply_holdout
    from zsk.core.spec.loading import load_spec

    loaded = load_spec(spec)
    data = load_data(loaded)
    holdout = loaded.validation_run
    validation = apply_holdout(data, holdout.classes, holdout.images, holdout.seed)

    def listed(samples) -> list[tuple[str, int]]:
        return [(str(s.path), s.label) for s in samples]

    manifest = {
        "attributes": data.attributes.tolist(),
        "image_size": loaded.model.image_size,
        "seen": data.seen,
        "unseen": data.unseen,
        "val_seen": validation.seen,
        "images": {
            "train": listed(data.train),
            "test_seen": listed(data.test_seen),
            "test_unseen": listed(data.test_unseen),
            "val_fit": listed(validation.train),
            "val_seen_images": listed(validation.holdout.seen_images),
            "val_unseen_images": listed(validation.holdout.unseen_images),
        },
    }
    out.write_text(json.dumps(manifest))


def study_record(evaluation: dict) -> dict:
    """An eval.json object in the layout the study tables read and the committed results hold:
    the embedding route's numbers at the top, the generative route under ``generative``, the
    imagined samples' attribute numbers as ``generated_attribute_accuracy`` and
    ``attribute_probe``."""
    routes, imagined = evaluation["routes"], evaluation.get("imagined") or {}
    embedding = routes.get("embedding", {})
    return {
        "step": evaluation["step"],
        "zsl_top1": embedding.get("zsl_top1"),
        "gzsl": embedding.get("gzsl"),
        "generative": routes.get("generative"),
        "generated_attribute_accuracy": imagined.get("attribute_accuracy"),
        "attribute_probe": imagined.get("probe"),
        "metrics": evaluation["metrics"],
        "calibration": evaluation["calibration"],
        "images": evaluation["images"],
        "seed": evaluation["seed"],
    }


def zsk_pipeline(
    data: Path,
    work: Path,
    name: str,
    seed: int,
    cpu_minutes: float,
    route: str | None = None,
    eval_args: Sequence[str] = EVAL_ARGS,
) -> dict:
    """``zsk init DATA`` (its default route, or ``route``) sized to ``cpu_minutes``, then ``zsk
    build``, ``zsk train`` and ``zsk eval`` (with ``eval_args``) of the run in ``work/NAME``:
    the training CPU and wall seconds, the evaluation's CPU seconds and its eval.json."""
    spec, run_dir, log = work / f"{name}.yaml", work / name, work / f"{name}.log"
    init = [*ZSK, "init", str(data), "--out", str(spec), "--force", "--seed", str(seed)]
    init += ["--cpu-minutes", str(cpu_minutes), *(["--route", route] if route else [])]
    run_logged(init, log)
    run_logged([*ZSK, "build", str(spec), "--out", str(run_dir), "--force"], log)
    start = time.time()
    train_cpu = run_logged([*ZSK, "train", str(run_dir), "--device", "cpu"], log)
    train_wall = time.time() - start
    eval_cpu = run_logged([*ZSK, "eval", str(run_dir), "--device", "cpu", *eval_args], log)
    return {"train_cpu_seconds": train_cpu, "train_wall_seconds": train_wall,
            "eval_cpu_seconds": eval_cpu,
            "eval": json.loads((run_dir / "eval.json").read_text())}  # fmt: skip


def run_zsk(
    data: Path, work: Path, name: str, seed: int, cpu_minutes: float, route: str | None = None
) -> dict:
    """:func:`zsk_pipeline` of a one-stage spec, its evaluation as :func:`study_record`, and
    the batch the spec chose."""
    record = zsk_pipeline(data, work, name, seed, cpu_minutes, route)
    batch = yaml.safe_load((work / f"{name}.yaml").read_text())["train"]["batch_size"]
    return record | {"eval": study_record(record["eval"]), "batch_size": batch}


def run_baseline(work: Path, spec: Path, seed: int, cpu_seconds: float) -> dict:
    """The hand-written learner on the split of ``spec`` (a zsk spec with a validation run)."""
    manifest, out, log = (
        work / "manifest.json",
        work / "baseline-result.json",
        work / "baseline.log",
    )
    write_manifest(spec, manifest)
    command = [sys.executable, str(HERE / "baseline.py"), str(manifest), str(out)]
    command += ["--cpu-seconds", f"{cpu_seconds:.1f}", "--seed", str(seed)]
    cpu = run_logged(command, log)
    return {"train_cpu_seconds": cpu, "baseline": json.loads(out.read_text())}


def pending(args: argparse.Namespace) -> Iterator[tuple[str, int, str, Path, Path]]:
    """Each (set, seed, method) of ``args`` that ``args.out``'s results file does not hold yet,
    with the set's data folder and the (set, seed)'s work folder, announced as it starts; seed
    by seed, so every set has one seed before any has two."""
    for seed in args.seeds:
        for name in args.sets:
            data = write_set(name, args.out / "data", args.data_seed)
            work = args.out / "runs" / f"{name}-s{seed}"
            work.mkdir(parents=True, exist_ok=True)
            for method in args.methods:
                if find(read(args.out / RESULTS), set=name, seed=seed, method=method):
                    continue
                print(f"{time.strftime('%H:%M:%S')} {name} seed {seed} {method}", flush=True)
                yield name, seed, method, data, work


def add_data_seed(parser: argparse.ArgumentParser) -> None:
    """The ``--data-seed`` argument: which draw of every set (its unseen classes and noise)."""
    parser.add_argument(
        "--data-seed",
        type=int,
        default=DATA_SEED,
        help=f"the draw of every set; {DATA_SEED} is the one the recipe was chosen on, "
        "another is data it was never tuned on (each OUT holds one draw)",
    )


def recorded(out: Path, name: str, seed: int, method: str) -> dict:
    """The finished ``method``'s record for (set, seed), which another method builds on."""
    record = find(read(out / RESULTS), set=name, seed=seed, method=method)
    if record is None:
        raise SystemExit(f"{name} seed {seed}: run the {method} method first")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", nargs="*", choices=sorted(SETS), default=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", choices=METHODS, default=list(METHODS))
    parser.add_argument("--cpu-minutes", type=float, default=0.4)
    add_data_seed(parser)
    args = parser.parse_args(argv)
    for name, seed, method, data, work in pending(args):
        if method == "baseline":
            gan = recorded(args.out, name, seed, "gan")
            record = run_baseline(work, work / "gan.yaml", seed, gan["train_cpu_seconds"])
        else:
            route = "no-gan" if method == "nogan" else "image-gan"
            record = run_zsk(data, work, method, seed, args.cpu_minutes, route)
        record |= {"set": name, "method": method, "seed": seed}
        put(args.out / RESULTS, finished(record), KEY)


if __name__ == "__main__":
    main()
