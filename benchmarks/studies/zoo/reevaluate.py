"""A finished zoo grid evaluated again with today's ``zsk eval``, its trained runs unchanged.

    python -m benchmarks.studies.zoo.reevaluate GRID_OUT INTO.jsonl [--unseen-as-distractors]
        [--no-carry-constant] [--no-mirror-average]

A change to the evaluation alone (how constants or routes are chosen) needs no new training
to be measured: every zsk run of the grid in ``GRID_OUT`` (the two-stage default and its no-GAN
twin) is evaluated again as the grid evaluates it (with ``zsk eval``'s flags given here), and
its record is written into ``INTO``
with the new evaluation in place of the old; training CPU, ridge and the hand-written
learner's records are kept as they were. ``python -m benchmarks.studies.zoo.grid --table
INTO`` then prints the grid's tables. A stopped run continues where it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.studies.results import RESULTS, find, put, read
from benchmarks.studies.zoo.grid import KEY, staged_record
from benchmarks.studies.zoo.run import EVAL_ARGS, ZSK, run_logged, study_record

#: ``zsk eval``'s arguments and the record layout of each zsk method, as the grid has them.
METHODS = {
    "two-stage": (("--probe-steps", "400"), staged_record),
    "no-gan": (tuple(EVAL_ARGS), study_record),
}


#: ``zsk eval``'s flags a re-evaluation may add.
FLAGS = ("--unseen-as-distractors", "--no-carry-constant", "--no-mirror-average")


def reevaluate(grid: Path, into: Path, extra: tuple[str, ...] = ()) -> None:
    """Every record of ``grid``'s results, its zsk runs evaluated again (``zsk eval``'s
    arguments ``extra`` added), into ``into``."""
    for record in read(grid / RESULTS):
        if find(read(into), **{key: record[key] for key in KEY}) is not None:
            continue
        method = record["method"]
        if method in METHODS:
            arguments, layout = METHODS[method]
            run_dir = grid / "runs" / f"{record['set']}-s{record['seed']}" / method
            print(f"{record['set']} seed {record['seed']} {method}", flush=True)
            command = [*ZSK, "eval", str(run_dir), "--device", "cpu", *arguments, *extra]
            cpu = run_logged(command, run_dir.parent / f"{method}-reevaluated.log")
            evaluation = json.loads((run_dir / "eval.json").read_text())
            record = record | {"eval": layout(evaluation), "eval_cpu_seconds": cpu}
        put(into, record, KEY)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("grid", type=Path, help="a zoo grid's folder")
    parser.add_argument("into", type=Path, help="the results file to write")
    for flag in FLAGS:
        parser.add_argument(flag, action="store_true", help="zsk eval's flag")
    args = parser.parse_args(argv)
    given = tuple(flag for flag in FLAGS if getattr(args, flag[2:].replace("-", "_")))
    reevaluate(args.grid, args.into, given)


if __name__ == "__main__":
    main()
