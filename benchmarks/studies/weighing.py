"""How a combined route should choose its weighing on few validation classes: every weighing
of the embedding and feature-generative routes of trained two-stage runs, on the validation
images and on the test images, and the test numbers each choice rule would have reported.

    python -m benchmarks.studies.weighing OUT --grid NAME [--imagining PER_CLASS EPOCHS] \
        GRID_OUT/runs/*/two-stage
    python -m benchmarks.studies.weighing --table OUT/results.jsonl

Each RUN_DIR is a trained two-stage run of the zoo grid (benchmarks/studies/zoo/grid.py),
``GRID_OUT/runs/SET-sSEED/two-stage``; ``NAME`` tells the grids apart in the table. Both stages
are scored as ``zsk eval`` scores them; then for every weighing of
:mod:`zsk.core.evaluate.combined` the study records, on the validation run's held-out classes, H
(constant chosen there), ZSL top-1 and the mean negative log-likelihood of the true class (among
the held-out classes for ZSL, among every validation class for GZSL), and on the test images the
numbers that weighing gives with that constant. The table applies each rule of :data:`RULES` to
the validation numbers only and prints the test numbers it picks, then how far validation and
test disagree on which route is better (:func:`disagreement`).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.studies.results import (
    RESULTS,
    finished,
    markdown_table,
    put,
    read,
    study_arguments,
    tabled,
)
from zsk.core.evaluate.combined import combine, validation_weighings
from zsk.core.evaluate.evaluator import evaluate_scored
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.protocol import calibrated_gzsl, zsl_top1
from zsk.core.evaluate.route_scores import RouteScores
from zsk.core.evaluate.trained import load_trained
from zsk.core.rundir.stages import read_staged


def weighings(embedding: RouteScores, generative: RouteScores) -> list[dict]:
    """Every weighing's validation numbers (as ``zsk eval`` judges it) and test numbers."""
    classes = embedding.classes
    every = sorted(classes.seen + classes.unseen)
    test_labels = embedding.test_labels
    unseen = torch.isin(test_labels, torch.tensor(classes.unseen))
    rows = []
    for judged in validation_weighings(embedding, generative):
        test = combine(embedding.test, generative.test, every, judged.temperature, judged.weight)
        gzsl = calibrated_gzsl(
            judged.calibration, test, test_labels, classes.seen, classes.unseen, embedding.source
        )
        rows.append(
            {
                "temperature": judged.temperature,
                "weight": judged.weight,
                "val_h": judged.gzsl_merit[0],
                "val_zsl": judged.zsl_merit[0],
                "val_zsl_nll": -judged.zsl_merit[1],
                "val_gzsl_nll": -judged.gzsl_merit[1],
                "test_h": gzsl.h,
                "test_zsl": zsl_top1(test[unseen], test_labels[unseen], classes.unseen),
            }
        )
    return rows


def measure(run_dir: Path, options: EvalOptions) -> dict:
    """The weighings of a two-stage run's recogniser embedding and feature-generative routes,
    each stage evaluated with ``options``."""
    staged = read_staged(run_dir)
    scores = {}
    for stage in staged.stages:
        _, scores[stage.name] = evaluate_scored(
            load_trained(stage.run_dir), options, torch.device("cpu")
        )
    return {
        "validation_unseen": len(scores["recogniser"]["embedding"].classes.validation_unseen),
        "weighings": weighings(scores["recogniser"]["embedding"], scores["features"]["generative"]),
    }


Rule = Callable[[list[dict], str], dict]

#: The middle weighing, which the rules prefer on a tie (neither route alone, moderate spread).
MIDDLE = (10.0, 0.5)


def _by(criterion: Callable[[dict], float]) -> Callable[[list[dict]], dict]:
    """The weighing with the best ``criterion`` (higher is better); ties go to the earliest,
    as :func:`zsk.core.evaluate.combined.combined_route` breaks them."""
    return lambda rows: max(rows, key=lambda row: (criterion(row), -rows.index(row)))


def _near_middle(row: dict) -> float:
    return -abs(row["weight"] - MIDDLE[1]) - abs(row["temperature"] - MIDDLE[0]) / 100


#: Each rule picks, from the validation numbers only, the weighing for GZSL and for ZSL.
RULES: dict[str, Callable[[list[dict]], tuple[dict, dict]]] = {
    "accuracy, earliest on ties": lambda rows: (
        _by(lambda r: r["val_h"])(rows),
        _by(lambda r: r["val_zsl"])(rows),
    ),
    "accuracy, likelihood on ties (zsk eval)": lambda rows: (
        _by(lambda r: (r["val_h"], -r["val_gzsl_nll"]))(rows),
        _by(lambda r: (r["val_zsl"], -r["val_zsl_nll"]))(rows),
    ),
    "accuracy, middle on ties": lambda rows: (
        _by(lambda r: (r["val_h"], _near_middle(r)))(rows),
        _by(lambda r: (r["val_zsl"], _near_middle(r)))(rows),
    ),
    "likelihood": lambda rows: (
        _by(lambda r: -r["val_gzsl_nll"])(rows),
        _by(lambda r: -r["val_zsl_nll"])(rows),
    ),
    "ZSL takes the GZSL weighing": lambda rows: (_by(lambda r: r["val_h"])(rows),) * 2,
    "fixed: T 10, w ½": lambda rows: (_fixed(rows, *MIDDLE),) * 2,
    "embedding alone (w 1, T 10)": lambda rows: (_fixed(rows, 10.0, 1.0),) * 2,
    "generative alone (w 0)": lambda rows: (_fixed(rows, 10.0, 0.0),) * 2,
}


def _fixed(rows: list[dict], temperature: float, weight: float) -> dict:
    return next(r for r in rows if (r["temperature"], r["weight"]) == (temperature, weight))


def table(path: Path) -> str:
    """Per grid of runs, rule and set: mean ± std over the set's runs of test ZSL and H."""
    records = read(path)
    grids = sorted({record["grid"] for record in records})
    tables = []
    for grid in grids:
        runs = [r for r in records if r["grid"] == grid]
        tables.append(f"{grid}:\n\n{_grid_table(runs)}\n\n{disagreement(runs)}")
    return "\n\n".join(tables)


def disagreement(records: list[dict]) -> str:
    """Per set, the feature GAN's classifier minus the embedding route (T 10) on the
    validation run's held-out classes and on the test classes, mean over runs: where the
    signs differ, validation favours the wrong route whatever rule reads it."""
    header = ["set", "ZSL: validation", "ZSL: test", "H: validation", "H: test"]
    rows = []
    for name in sorted({record["set"] for record in records}):
        runs = [r["weighings"] for r in records if r["set"] == name]
        gaps = []
        for validation, test in (("val_zsl", "test_zsl"), ("val_h", "test_h")):
            for field in (validation, test):
                gap = [_fixed(w, 10.0, 0.0)[field] - _fixed(w, 10.0, 1.0)[field] for w in runs]
                gaps.append(f"{statistics.mean(gap):+.3f}")
        rows.append([name, *gaps])
    return markdown_table(header, rows)


def _grid_table(records: list[dict]) -> str:
    sets = sorted({record["set"] for record in records})
    header = ["rule", *(f"{name} ZSL / H" for name in sets), "mean ZSL / H"]
    rows = []
    for rule, choose in RULES.items():
        cells, means = [], ([], [])
        for name in sets:
            picks = [choose(r["weighings"]) for r in records if r["set"] == name]
            zsl = [zsl_pick["test_zsl"] for _, zsl_pick in picks]
            h = [h_pick["test_h"] for h_pick, _ in picks]
            means[0].append(statistics.mean(zsl))
            means[1].append(statistics.mean(h))
            cells.append(f"{_spread(zsl)} / {_spread(h)}")
        mean = f"{statistics.mean(means[0]):.3f} / {statistics.mean(means[1]):.3f}"
        rows.append([rule, *cells, mean])
    return markdown_table(header, rows)


def _spread(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f}±{std:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--grid", default="", help="the name of the grid the runs are from")
    parser.add_argument(
        "--imagining",
        nargs=2,
        type=int,
        metavar=("PER_CLASS", "EPOCHS"),
        help="the feature GAN's classifier with these settings only, instead of those zsk eval "
        "chooses among on the same validation classes",
    )
    args = parser.parse_intermixed_args(argv)  # OUT, then the options, then the runs
    options = EvalOptions()
    if args.imagining is not None:
        options = EvalOptions(
            images_per_class=(args.imagining[0],), classifier_epochs=(args.imagining[1],)
        )
    if tabled(args, table):
        return
    for run_dir in args.runs:
        name = run_dir.parent.name  # SET-sSEED
        record = {"set": name.rsplit("-s", 1)[0], "seed": int(name.rsplit("-s", 1)[1])}
        record |= {"grid": args.grid} | measure(run_dir, options)
        put(args.out / RESULTS, finished(record), ("grid", "set", "seed"))
        print(f"{args.grid} {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
