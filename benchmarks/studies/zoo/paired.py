"""Recogniser variants tested side by side on one draw's test classes.

    python -m benchmarks.studies.zoo.paired OUT_DIR --data-seed 21 [--sets digits ...]
        [--seeds 0 1 2] [--cpu-minutes 1] [--variants recogniser "recogniser, ..."]
    python -m benchmarks.studies.zoo.paired --table OUT_DIR/results.jsonl

``benchmarks.studies.zoo.tune`` chooses between variants on validation classes; this checks a
choice on test classes of a draw no one has tuned on. For each set and seed, ``zsk init --route
no-gan`` writes the recogniser's spec once and every variant edits that spec (so each trains the
same epochs of the same data from the same seed); each is built, trained (its validation run
included) and evaluated as a user's run is. One record per set, seed and variant in
``OUT_DIR/results.jsonl``: test ZSL top-1, calibrated H, the validation H that calibrated it and
the training's process CPU seconds; a finished one is kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import yaml

from benchmarks.studies.results import (
    RESULTS,
    find,
    finished,
    markdown_table,
    mean_spread,
    put,
    read,
    study_arguments,
    tabled,
)
from benchmarks.studies.zoo.run import ZSK, add_data_seed, run_logged
from benchmarks.studies.zoo.sets import SETS, write_set
from benchmarks.studies.zoo.tune import RECOGNISER_VARIANTS, edited_spec, slug

#: The fields that name one run in the results file.
KEY = ("set", "variant", "cpu_minutes", "seed")
#: The recipe's recogniser with the constant learning rate it had before it decayed it.
CONSTANT = "recogniser, constant learning rate"
#: What each run is compared on: test ZSL top-1 and calibrated GZSL H.
MEASURES = ("zsl_top1", "h")


def run_pair(args: argparse.Namespace, name: str, seed: int) -> None:
    """Train and evaluate every variant of ``args`` on set ``name`` (already written under
    ``args.out/data``) with ``seed``, recording each into the results file."""
    out, cpu_minutes = args.out, args.cpu_minutes
    results = out / RESULTS
    work = out / "runs" / f"{name}-{cpu_minutes:g}min-s{seed}"
    work.mkdir(parents=True, exist_ok=True)
    base, log = work / "init.yaml", work / "log"
    if not base.is_file():
        init = [*ZSK, "init", str(out / "data" / name), "--out", str(base), "--seed", str(seed)]
        run_logged([*init, "--route", "no-gan", "--cpu-minutes", str(cpu_minutes)], log)
    spec = yaml.safe_load(base.read_text())
    for label in args.variants:
        key = {"set": name, "variant": label, "cpu_minutes": cpu_minutes, "seed": seed,
               "data_seed": args.data_seed}  # fmt: skip
        if find(read(results), **key):
            continue
        path, run_dir = work / f"{slug(label)}.yaml", work / slug(label)
        path.write_text(yaml.safe_dump(edited_spec(spec, label), sort_keys=False))
        run_logged([*ZSK, "build", str(path), "--out", str(run_dir), "--force"], log)
        cpu = run_logged([*ZSK, "train", str(run_dir), "--device", "cpu"], log)
        run_logged([*ZSK, "eval", str(run_dir), "--device", "cpu"], log)
        embedding = json.loads((run_dir / "eval.json").read_text())["routes"]["embedding"]
        gzsl = embedding["gzsl"]
        record = key | {"epochs": spec["train"]["epochs"], "train_cpu_seconds": cpu,
                        "zsl_top1": embedding["zsl_top1"], "h": gzsl["h"],
                        "val_h": gzsl["calibration"]["val_h"]}  # fmt: skip
        put(results, finished(record), KEY)
        print(json.dumps(record), flush=True)


def table(path: Path) -> str:
    """Test ZSL top-1 and calibrated H of each variant per set and budget (mean ± std over
    seeds); per budget, the mean over the sets every variant finished, and on how many of those
    sets each later variant's mean H is at least the first variant's."""
    records = read(path)
    variants = [v for v in RECOGNISER_VARIANTS if any(r["variant"] == v for r in records)]
    rows, counts = [], []
    for budget in sorted({r["cpu_minutes"] for r in records}):
        complete = []
        for name in SETS:
            found = [_of(records, name, v, budget) for v in variants]
            if any(found):
                cells = [mean_spread([r[k] for r in runs]) for runs in found for k in MEASURES]
                rows.append([name, f"{budget:g}", *cells])
            if all(found):
                complete.append([[_mean(runs, k) for k in MEASURES] for runs in found])
        if not complete:
            continue
        means = [f"{statistics.mean(s[v][k] for s in complete):.3f}"
                 for v in range(len(variants)) for k in range(len(MEASURES))]  # fmt: skip
        rows.append([f"mean of {len(complete)} sets", f"{budget:g}", *means])
        for v, label in enumerate(variants[1:], start=1):
            won = sum(s[v][1] >= s[0][1] for s in complete)
            counts.append(
                f"{budget:g} min, {label}: H at least {variants[0]}'s on {won} of "
                f"{len(complete)} sets"
            )
    header = ["set", "CPU min", *(f"{v}: {k}" for v in variants for k in ("ZSL top-1", "H"))]
    return "\n".join([markdown_table(header, rows), "", *counts])


def _of(records: list[dict], name: str, variant: str, budget: float) -> list[dict]:
    """The runs of ``variant`` on set ``name`` at ``budget`` CPU minutes."""
    wanted = (name, variant, budget)
    return [r for r in records if (r["set"], r["variant"], r["cpu_minutes"]) == wanted]


def _mean(records: list[dict], measure: str) -> float:
    return statistics.mean(r[measure] for r in records)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument(
        "--variants",
        nargs="*",
        choices=list(RECOGNISER_VARIANTS),
        default=[CONSTANT, "recogniser"],
    )
    parser.add_argument("--cpu-minutes", type=float, default=1.0)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    add_data_seed(parser)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    for seed in args.seeds:
        for name in args.sets:
            write_set(name, args.out / "data", args.data_seed)
            run_pair(args, name, seed)


if __name__ == "__main__":
    main()
