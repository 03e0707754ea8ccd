"""The side-by-side table of the f-CLSWGAN comparison (benchmarks.studies.fclswgan_vs_authors)
from its result rows."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.studies.results import read


def _cell(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "—"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _group(rows: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["size"], row["step"], row["side"]), []).append(row)
    return groups


def _scores(side: list[dict]) -> str:
    if not side:
        return "—"
    hus = ", ".join(_cell([r[k] for r in side]) for k in ("u", "s", "h"))
    return f"{_cell([r['zsl_top1'] for r in side])} / {hus}"


def _calibrated_cell(zsk: list[dict]) -> str:
    """zsk's calibrated H over the rows that measured it (``--no-calibrated`` rows did not)."""
    measured = [r["calibrated"]["h"] for r in zsk if "calibrated" in r]
    if not zsk:
        return "—"
    return _cell(measured) if measured else "not measured"


def _cpu(sides: tuple[list[dict], ...], field: str) -> str:
    return " / ".join(
        f"{statistics.mean(r[field] for r in side):.0f}" if side else "—" for side in sides
    )


def table(path: Path) -> str:
    """The side-by-side table (mean ± std over seeds) of result rows, one line per data set,
    size and step count: ZSL top-1 and uncalibrated u, s, H of both sides as the release
    computes them (last classifier epoch), zsk's calibrated H, each side's training and
    evaluation CPU seconds; then the release's own printout (best epoch on the test features)."""
    groups = _group(read(path))
    lines = [
        "| data set | size | steps | seeds | authors: ZSL / u, s, H | zsk: ZSL / u, s, H "
        "| zsk calibrated H | training CPU s (authors / zsk) | evaluation CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset, size, step in sorted({k[:3] for k in groups}):
        sides = tuple(groups.get((dataset, size, step, side), []) for side in ("authors", "zsk"))
        seeds = min(map(len, sides)) if all(sides) else max(map(len, sides))
        calibrated = _calibrated_cell(sides[1])
        cells = [dataset, size, f"{step:,}", seeds, *map(_scores, sides), calibrated]
        cells += [_cpu(sides, "train_cpu_seconds"), _cpu(sides, "eval_cpu_seconds")]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += [
        "",
        "| data set | size | steps | authors as printed (best of 25 epochs on test): "
        "ZSL / u, s, H |",
        "|---|---|---|---|",
    ]
    for (dataset, size, step, side), members in sorted(groups.items()):
        if side == "authors":
            best = _scores([r["best_on_test"] for r in members])
            lines.append(f"| {dataset} | {size} | {step:,} | {best} |")
    return "\n".join(lines)
