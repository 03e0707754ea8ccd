"""The zoo benchmark's tables (Markdown), from the results file that its driver writes.

    python -m benchmarks.studies.zoo.table OUT_DIR/results.jsonl
    python -m benchmarks.studies.zoo.table benchmarks/results/zoo-0.4min.2core-epyc.jsonl

Every cell is the mean ± the sample standard deviation over training seeds, with the number of
seeds when it is not the same everywhere. A metric a method does not have is "—".
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from benchmarks.studies.results import read
from benchmarks.studies.zoo.baseline import BATCH as BASELINE_BATCH
from benchmarks.studies.zoo.sets import SETS

#: The batch of both zsk specs in the grids recorded before ``zsk init --route``.
RECORDED_BATCH = 32

METHODS = {"gan": "zsk default (GAN)", "nogan": "same networks, no GAN", "baseline": "hand-written"}
#: Differences within this are ties (about the seed-to-seed spread of the small runs).
TIE = 0.01


def metrics(record: dict) -> dict[str, float]:
    """The four numbers of one run (absent ones left out)."""
    if record["method"] == "baseline":
        found = record["baseline"]
        return {"zsl": found["zsl_top1"], "h": found["gzsl"]["h"]}
    found = record["eval"]
    if "validation run" not in found["gzsl"]["calibration"]["source"]:
        raise ValueError(f"{record['set']} {record['method']}: GZSL not calibrated on validation")
    values = {"zsl": found["zsl_top1"], "h": found["gzsl"]["h"]}
    if record["method"] == "gan":
        values["gzsl_gen_zsl"] = found["generative"]["zsl_top1"]
        values["attr"] = found["generated_attribute_accuracy"]
        values["attr_real"] = found["attribute_probe"]["real_test_unseen"]
    return values


def images_trained_on(record: dict) -> int:
    """Real images the run's recognition network (D, or the hand-written net) was updated on:
    what the CPU budget bought it (the validation model or run not counted)."""
    if record["method"] == "baseline":
        return record["baseline"]["steps"] * BASELINE_BATCH
    return record["eval"]["step"] * record.get("batch_size", RECORDED_BATCH)


def load(path: Path) -> dict[tuple[str, str], list[dict]]:
    """The records of ``path`` by (set, method)."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in read(path):
        runs[record["set"], record["method"]].append(record)
    return runs


def cell(values: list[float], seeds: int = 3) -> str:
    if not values:
        return "—"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    text = f"{statistics.mean(values):.3f} ± {spread:.3f}"
    return text if len(values) == seeds else f"{text} (n={len(values)})"


def _mean(runs: list[dict], key: str) -> float | None:
    values = [metrics(r)[key] for r in runs if key in metrics(r)]
    return statistics.mean(values) if values else None


def verdict(runs: dict, name: str, key: str) -> str:
    """'wins', 'ties' or 'loses to X' for the GAN default on one set and metric."""
    mine = _mean(runs.get((name, "gan"), []), key)
    others = {m: _mean(runs.get((name, m), []), key) for m in ("nogan", "baseline")}
    if mine is None or any(v is None for v in others.values()):
        return "not measured"
    beaten = [m for m, v in others.items() if v > mine + TIE]
    if beaten:
        return "loses to " + " and ".join(METHODS[m] for m in beaten)
    return "ties" if any(v > mine - TIE for v in others.values()) else "wins"


def render(path: Path) -> str:
    runs = load(path)
    lines = [
        "| set | method | ZSL top-1 | GZSL H (calibrated on a validation run) "
        "| generative ZSL top-1 | imagined attribute acc. (judge on real unseen) "
        "| train CPU s | real images D trained on | eval CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SETS:
        for method, label in METHODS.items():
            found = runs.get((name, method), [])
            if not found:
                continue
            values = defaultdict(list)
            for record in found:
                for key, value in metrics(record).items():
                    values[key].append(value)
            attr = cell(values["attr"])
            if values["attr_real"]:
                attr += f" ({statistics.mean(values['attr_real']):.3f})"
            train = statistics.mean(r["train_cpu_seconds"] for r in found)
            seen = f"{statistics.mean(images_trained_on(r) for r in found) / 1000:.1f}k"
            evaluation = [r["eval_cpu_seconds"] for r in found if "eval_cpu_seconds" in r]
            lines.append(
                f"| {name} | {label} | {cell(values['zsl'])} | {cell(values['h'])} "
                f"| {cell(values['gzsl_gen_zsl'])} | {attr if values['attr'] else '—'} "
                f"| {train:.0f} | {seen} | {statistics.mean(evaluation):.0f} |"
                if evaluation
                else f"| {name} | {label} | {cell(values['zsl'])} | {cell(values['h'])} "
                f"| — | — | {train:.0f} | {seen} | — |"
            )
    lines += [
        "",
        "| set | ZSL top-1: zsk default | calibrated GZSL H: zsk default |",
        "|---|---|---|",
    ]
    for name in SETS:
        if (name, "gan") in runs:
            lines.append(f"| {name} | {verdict(runs, name, 'zsl')} | {verdict(runs, name, 'h')} |")
    return "\n".join(lines) + "\n\n" + shortfalls(runs) + "\n\n" + validation(runs) + "\n"


def validation(runs: dict) -> str:
    """Validation H of each method's validation model/run: validation data only."""
    lines = ["| set | " + " | ".join(METHODS.values()) + " |", "|---|---|---|---|"]
    for name in SETS:
        cells = []
        for method in METHODS:
            found = runs.get((name, method), [])
            cells.append(cell([_validation_h(r) for r in found]))
        if any(c != "—" for c in cells):
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _validation_h(record: dict) -> float:
    if record["method"] == "baseline":
        return record["baseline"]["validation_h"]
    return record["eval"]["gzsl"]["calibration"]["val_h"]


def shortfalls(runs: dict) -> str:
    """Per set, the predicates whose imagined accuracy falls furthest below the real one."""
    lines = ["| set | imagined − real (mean) | predicates more than 0.03 below real (gap) |",
             "|---|---|---|"]  # fmt: skip
    for name in SETS:
        found = runs.get((name, "gan"), [])
        if not found:
            continue
        gaps: dict[str, list[float]] = defaultdict(list)
        for record in found:
            per = record["eval"]["attribute_probe"]["per_predicate"]
            for predicate, real in per["real_test_unseen"].items():
                gaps[predicate].append(per["imagined_unseen"][predicate] - real)
        mean_gap = {p: statistics.mean(v) for p, v in gaps.items()}
        short = sorted((g, p) for p, g in mean_gap.items() if g < -0.03)
        listed = ", ".join(f"{p} ({g:+.2f})" for g, p in short[:8])
        more = f" and {len(short) - 8} more" if len(short) > 8 else ""
        overall = statistics.mean(mean_gap.values())
        lines.append(f"| {name} | {overall:+.3f} | {listed or 'none'}{more} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="a results file of the zoo's driver")
    print(render(parser.parse_args(argv).results), end="")


if __name__ == "__main__":
    main()
