"""The zoo grid of the recommended spec: `zsk init`'s two-stage default beside its no-GAN twin
and a hand-written learner at the same process CPU, and ridge regression on its embeddings.

    python -m benchmarks.studies.zoo.grid OUT [--sets ...] [--seeds 0 1 2] [--cpu-minutes 0.4]
        [--methods two-stage no-gan baseline] [--data-seed 0]
    python -m benchmarks.studies.zoo.grid --table OUT/results.jsonl

For every set and training seed, on one split:

- ``two-stage``: ``zsk init DATA --route two-stage --cpu-minutes M --seed S``, ``zsk build``,
  ``zsk train`` (both stages and their validation runs, one process), ``zsk eval``: every
  route of both stages and the two combined, each calibrated on the validation runs' held-out
  classes, and the headline chosen among them on validation classes (beside it in the
  table, the routes that plain validation H and cross-fitted H would have chosen); then ridge
  regression from the recogniser's φ(x) (the features ``zsk train`` extracted for the second
  stage) to class attributes, λ and constant chosen on the validation run's held-out classes;
- ``no-gan``: ``zsk init --route no-gan`` at the same budget (the recogniser alone);
- ``baseline``: benchmarks/studies/zoo/baseline.py (no zsk) given the process CPU seconds that
  ``zsk train`` spent for ``two-stage``, its own validation model included.

Every command is a child process on one thread; CPU seconds are the children's user + system
time. One JSON object per finished (set, seed, method) is appended to ``OUT/results.jsonl``;
a stopped grid continues where it was. ``--table`` prints every route's numbers and, per set,
the comparisons the recipe is held to (:func:`verdicts`).
"""

from __future__ import annotations

import resource
import statistics
from pathlib import Path

from benchmarks.studies.features_route import ridge_baseline
from benchmarks.studies.results import (
    RESULTS,
    RouteNumbers,
    finished,
    markdown_table,
    put,
    read,
    routes_table,
    study_arguments,
    tabled,
)
from benchmarks.studies.zoo.run import (
    add_data_seed,
    pending,
    recorded,
    run_baseline,
    run_zsk,
    zsk_pipeline,
)
from benchmarks.studies.zoo.sets import SETS
from zsk.core.data.feature_folder import read_feature_folder
from zsk.core.data.holdout import apply_holdout
from zsk.core.evaluate.merit import best
from zsk.core.spec.loading import load_spec

METHODS = ("two-stage", "no-gan", "baseline")
#: The fields that name one run in the results file.
KEY = ("set", "seed", "method")
#: The table's rows of a two-stage run: its headline and the routes it was chosen among.
DEFAULT = "zsk init default (two-stage): its headline"
BY_VALIDATION_H = "its route of highest validation H (its ZSL: one route for both tasks)"
BY_CROSS_FITTED_ZSL = "its route of highest cross-fitted top-1 (its ZSL: the ZSL rule before)"
FIRST_STAGE = "its first stage: the recogniser's embedding route"
FEATURE_GAN = "its feature GAN's classifier"
COMBINED = "the two combined"
NO_GAN = "no-GAN twin (--route no-gan), same budget"
HAND_WRITTEN = "hand-written, the default's process CPU"
RIDGE = "ridge on its φ(x), CPU added"
#: Where each route of a two-stage run sits in its eval.json.
STAGE_ROUTES = {
    FIRST_STAGE: "recogniser/embedding",
    FEATURE_GAN: "features/generative",
    COMBINED: "recogniser/embedding+features/generative",
}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def route_numbers(route: dict) -> dict:
    """ZSL top-1, calibrated H, validation H and cross-fitted numbers of one route of an
    eval.json."""
    return {
        "zsl_top1": route["zsl_top1"],
        "h": route["gzsl"]["h"],
        "val_h": route["gzsl"]["calibration"]["val_h"],
        "cross_fitted": route.get("cross_fitted"),
    }


def staged_record(evaluation: dict) -> dict:
    """A staged eval.json as the grid keeps it: every calibrated route by its full name, and
    the headline's routes and numbers."""
    routes = {
        f"{stage}/{name}": route_numbers(route)
        for stage, result in evaluation["stages"].items()
        for name, route in result["routes"].items()
        if "calibration" in route["gzsl"]
    }
    routes |= {name: route_numbers(route) for name, route in evaluation["combined"].items()}
    headline = evaluation["headline"]
    chosen = {key: headline[key] for key in ("route", "zsl_route", "zsl_top1", "h", "val_h")}
    return {"routes": routes, "headline": chosen}


def two_stage(data: Path, work: Path, seed: int, cpu_minutes: float) -> dict:
    """``zsk init --route two-stage`` built, trained and evaluated in ``work/two-stage``, and
    ridge on its recogniser's φ(x)."""
    # the feature stage's own candidates of samples per class (zsk eval's defaults)
    record = zsk_pipeline(
        data, work, "two-stage", seed, cpu_minutes, "two-stage", ("--probe-steps", "400")
    )
    start = _own_cpu()
    recogniser = work / "two-stage" / "recogniser"
    holdout = load_spec(recogniser / "spec.lock.yaml").validation_run
    full = read_feature_folder(recogniser / "validation" / "features-embedding")
    validation = apply_holdout(full, holdout.classes, holdout.images, holdout.seed)
    ridge = ridge_baseline(validation, read_feature_folder(recogniser / "features-embedding"))
    return record | {
        "eval": staged_record(record["eval"]),
        "ridge": ridge | {"cpu_seconds": _own_cpu() - start},
    }


def run_grid(args) -> None:
    for name, seed, method, data, work in pending(args):
        if method == "two-stage":
            record = two_stage(data, work, seed, args.cpu_minutes)
        elif method == "no-gan":
            record = run_zsk(data, work, "no-gan", seed, args.cpu_minutes, "no-gan")
        else:
            default = recorded(args.out, name, seed, "two-stage")
            split = work / "two-stage" / "recogniser" / "spec.lock.yaml"
            record = run_baseline(work, split, seed, default["train_cpu_seconds"])
        record |= {"set": name, "seed": seed, "method": method, "cpu_minutes": args.cpu_minutes}
        record["data_seed"] = args.data_seed
        put(args.out / RESULTS, finished(record), KEY)


def routes(record: dict) -> dict[str, RouteNumbers]:
    """(ZSL top-1, calibrated GZSL H, CPU s) of each route one record holds."""
    method, cpu = record["method"], record["train_cpu_seconds"]
    if method == "baseline":
        found = record["baseline"]
        return {HAND_WRITTEN: (found["zsl_top1"], found["gzsl"]["h"], cpu)}
    if method == "no-gan":
        found = record["eval"]
        return {NO_GAN: (found["zsl_top1"], found["gzsl"]["h"], cpu)}
    evaluation, ridge = record["eval"], record["ridge"]
    every = evaluation["routes"]
    names = list(every)
    by_validation_h = names[best([every[name]["val_h"] for name in names])]
    found = {DEFAULT: evaluation["headline"], BY_VALIDATION_H: every[by_validation_h]}
    fitted = [every[name].get("cross_fitted") for name in names]
    if all(record is not None for record in fitted):
        by_cross_fitted_zsl = names[best([record["zsl_top1"] for record in fitted])]
        found[BY_CROSS_FITTED_ZSL] = every[by_cross_fitted_zsl]
    found |= {row: every[route] for row, route in STAGE_ROUTES.items()}
    numbers = {row: (r["zsl_top1"], r["h"], cpu) for row, r in found.items()}
    ridge_cpu = ridge["cpu_seconds"]
    return numbers | {RIDGE: (ridge["zsl_top1"], ridge["gzsl"]["h"], ridge_cpu)}


def _cells(records: list[dict]) -> dict[tuple[str, str], list[RouteNumbers]]:
    cells: dict[tuple[str, str], list[RouteNumbers]] = {}
    for record in records:
        for route, numbers in routes(record).items():
            cells.setdefault((record["set"], route), []).append(numbers)
    return dict(sorted(cells.items(), key=lambda cell: list(SETS).index(cell[0][0])))


def compare(ours: list[float], theirs: list[float]) -> str:
    """``ahead``, ``behind`` or ``tie`` (the means closer than the larger standard deviation
    over seeds), with both means."""
    mean_ours, mean_theirs = statistics.mean(ours), statistics.mean(theirs)
    spread = max(statistics.stdev(ours), statistics.stdev(theirs))
    word = "tie" if abs(mean_ours - mean_theirs) <= spread else "ahead"
    if word == "ahead" and mean_ours < mean_theirs:
        word = "behind"
    return f"{word} ({mean_ours:.3f} vs {mean_theirs:.3f})"


def verdicts(records: list[dict]) -> str:
    """Per set with three seeds or more of each: the default's headline against the
    hand-written learner (ZSL top-1, H), its H against its own first stage's, and, the choice
    of the default, its validation H against the no-GAN twin's."""
    cells = _cells(records)
    validation: dict[tuple[str, str], list[float]] = {}
    for record in records:
        if record["method"] == "two-stage":
            val_h = record["eval"]["headline"]["val_h"]
            validation.setdefault((record["set"], "two-stage"), []).append(val_h)
        elif record["method"] == "no-gan":
            val_h = record["eval"]["gzsl"]["calibration"]["val_h"]
            validation.setdefault((record["set"], "no-gan"), []).append(val_h)
    rows = []
    for name in SETS:
        needed = [cells.get((name, row), []) for row in (DEFAULT, HAND_WRITTEN, FIRST_STAGE)]
        if min(len(runs) for runs in needed) < 3:
            continue
        default, hand, first = needed

        def column(runs: list[RouteNumbers], index: int) -> list[float]:
            return [numbers[index] for numbers in runs]

        choice = "—"
        if len(validation.get((name, "no-gan"), [])) >= 3:
            choice = compare(validation[name, "two-stage"], validation[name, "no-gan"])
        rows.append(
            (
                name,
                compare(column(default, 0), column(hand, 0)),
                compare(column(default, 1), column(hand, 1)),
                compare(column(default, 1), column(first, 1)),
                choice,
            )
        )
    header = (
        "set",
        "ZSL vs hand-written",
        "H vs hand-written",
        "H vs its first stage",
        "validation H vs no-GAN twin",
    )
    return markdown_table(header, rows)


def budgets(records: list[dict]) -> str:
    """Per set, what ``zsk train`` spent of the budget ``zsk init`` was asked for: process CPU
    seconds ÷ asked, mean and range over seeds, for each zsk route."""
    spent: dict[tuple[str, str], list[float]] = {}
    for record in records:
        if record["method"] in ("two-stage", "no-gan"):
            share = record["train_cpu_seconds"] / (60 * record["cpu_minutes"])
            spent.setdefault((record["set"], record["method"]), []).append(share)
    rows = []
    for name in SETS:
        cells = [name]
        for method in ("two-stage", "no-gan"):
            found = spent.get((name, method))
            if found is None:
                cells.append("—")
            else:
                cells.append(f"{statistics.mean(found):.2f} ({min(found):.2f}–{max(found):.2f})")
        if cells[1:] != ["—", "—"]:
            rows.append(cells)
    header = ("set", "two-stage: spent ÷ asked (range)", "no-gan: spent ÷ asked (range)")
    return markdown_table(header, rows)


def table(path: Path) -> str:
    """Mean ± std over seeds of every route per set, the sets in :data:`SETS`' order (CPU s:
    mean training process CPU; ridge: what it adds to the run), then :func:`verdicts` and
    :func:`budgets`."""
    records = read(path)
    every = routes_table(_cells(records), "calibrated GZSL H", "train CPU s")
    return "\n\n".join((every, verdicts(records), budgets(records)))


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", choices=METHODS, default=list(METHODS))
    parser.add_argument("--cpu-minutes", type=float, default=0.4)
    add_data_seed(parser)
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    run_grid(args)


if __name__ == "__main__":
    main()
