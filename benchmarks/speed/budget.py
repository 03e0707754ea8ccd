"""What ``zsk train`` spends of the budget ``zsk init --cpu-minutes M`` states, on each zoo set
(BENCHMARKS.md §6).

    python -m benchmarks.speed.budget OUT_DIR [--sets ...] [--cpu-minutes 0.4 2] [--seed 0]
    python -m benchmarks.speed.budget --table OUT_DIR/results.jsonl   # the Markdown table

For each set and budget: ``zsk init DATA --cpu-minutes M`` (its default route), ``zsk build``,
then ``zsk train`` run as a user runs it, with no thread variable set (the spec's
``train.threads`` decides), and its process CPU seconds (every thread, the child's rusage) set
against the M·60 asked; the goal is within 15%. One record per set and budget in
``OUT_DIR/results.jsonl``, with the seconds init's header expected and the epochs it chose.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import yaml

from benchmarks.studies.results import (
    RESULTS,
    finished,
    markdown_table,
    put,
    read,
    study_arguments,
    tabled,
)
from benchmarks.studies.zoo.run import ZSK, run_logged
from benchmarks.studies.zoo.sets import SETS, write_set

#: Environment variables that would pin torch's threads from outside the spec.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def spent_cpu(command: list[str], log: Path) -> tuple[float, float]:
    """Run ``command`` as a user would (no thread variables), appending its output to ``log``:
    its process CPU seconds (every thread) and its wall seconds."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    start = time.time()
    cpu = run_logged(command, log, env)
    return cpu, time.time() - start


def measure(name: str, data: Path, work: Path, minutes: float, seed: int) -> dict:
    """One set's record at ``minutes``: asked, expected (init's header) and spent CPU seconds."""
    work.mkdir(parents=True, exist_ok=True)
    spec, run_dir, log = work / "spec.yaml", work / "run", work / "log"
    init = [*ZSK, "init", str(data), "--out", str(spec), "--force", "--seed", str(seed)]
    spent_cpu([*init, "--cpu-minutes", str(minutes)], log)
    spent_cpu([*ZSK, "build", str(spec), "--out", str(run_dir), "--force"], log)
    cpu, wall = spent_cpu([*ZSK, "train", str(run_dir), "--device", "cpu"], log)
    text = spec.read_text()
    expected = re.search(r"about ([\d.e+-]+) CPU minutes", text)
    train = yaml.safe_load(text)["train"]
    return finished(
        {
            "set": name,
            "cpu_minutes": minutes,
            "seed": seed,
            "asked_cpu_seconds": minutes * 60,
            "expected_cpu_seconds": float(expected.group(1)) * 60 if expected else None,
            "train_cpu_seconds": round(cpu, 2),
            "train_wall_seconds": round(wall, 2),
            "epochs": train["epochs"],
            "batch_size": train["batch_size"],
        }
    )


def table(path: Path) -> str:
    """Spent against asked process CPU seconds of the results file ``path``: a row per set, a
    column per budget (spent, and spent ÷ asked)."""
    records = read(path)
    budgets = sorted({r["asked_cpu_seconds"] for r in records})
    spent = {(r["set"], r["asked_cpu_seconds"]): r["train_cpu_seconds"] for r in records}
    sets = list(dict.fromkeys(r["set"] for r in records))
    rows = [
        (
            name,
            *(
                f"{spent[name, asked]:.1f} ({spent[name, asked] / asked:.2f})"
                if (name, asked) in spent
                else "—"
                for asked in budgets
            ),
        )
        for name in sets
    ]
    header = ("set", *(f"asked {asked:.0f} s: `zsk train` spent (÷ asked)" for asked in budgets))
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--cpu-minutes", nargs="*", type=float, default=[0.4, 2.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    for minutes in args.cpu_minutes:
        for name in args.sets:
            data = write_set(name, args.out / "data")
            work = args.out / "runs" / f"{name}-{minutes:g}"
            record = measure(name, data, work, minutes, args.seed)
            put(args.out / RESULTS, record, ("set", "cpu_minutes", "seed"))
            print(json.dumps(record), flush=True)
    print(table(args.out / RESULTS))


if __name__ == "__main__":
    main()
