"""Training curves for the report: one matplotlib panel per logged quantity.

Each panel has its own y axis, because the terms' scales differ by orders of magnitude; a panel
whose values are all positive and span more than two decades uses a log scale. Every panel shows
the raw values in a light colour and a trailing moving average over them in a dark one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from zsk.core.storage.files import writing  # noqa: E402

COLUMNS = 3
PANEL_INCHES = (4.0, 2.6)
DPI = 100
RAW = "#aabee1"
SMOOTH = "#194190"
LOG_SCALE_SPAN = 100.0
LOSS_PREFIXES = ("d", "g")
NOT_PLOTTED = frozenset({"time", "epoch"})

Series = dict[str, list[tuple[float, float]]]


def read_metrics(path: Path) -> Series:
    """Series (step, value) per numeric key of a metrics.jsonl file; bad lines are skipped."""
    series: Series = {}
    if not path.is_file():
        return series
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("step"), int | float):
            continue
        for key, value in record.items():
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and is_number and math.isfinite(value):
                series.setdefault(key, []).append((float(record["step"]), float(value)))
    return series


def split_losses(series: Series) -> tuple[Series, Series]:
    """(loss terms, other training signals): the trainer logs terms as ``d/NAME`` and
    ``g/NAME``; clock time and the epoch counter are neither and are dropped."""
    losses = {k: v for k, v in series.items() if k.split("/", 1)[0] in LOSS_PREFIXES}
    others = {k: v for k, v in series.items() if k not in losses and k not in NOT_PLOTTED}
    return losses, others


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def wants_log_scale(values: list[float]) -> bool:
    """True when every value is positive and they span more than two decades."""
    low = min(values)
    return low > 0 and max(values) / low > LOG_SCALE_SPAN


def _draw_panel(axes, name: str, points: list[tuple[float, float]]) -> None:
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    window = max(1, len(values) // 20)
    axes.plot(steps, values, color=RAW, linewidth=0.8, marker="o" if len(values) == 1 else None)
    axes.plot(steps, moving_average(values, window), color=SMOOTH, linewidth=1.6)
    log_scale = wants_log_scale(values)
    if log_scale:
        axes.set_yscale("log")
    axes.set_title(name, fontsize=9)
    axes.set_xlabel("step", fontsize=8)
    axes.set_ylabel("value (log scale)" if log_scale else "value", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(True, alpha=0.3)


def plot_series(series: Series, path: Path) -> Path:
    """Draw every series as a panel in a grid of ``COLUMNS`` columns and save a PNG."""
    if not series:
        raise ValueError("nothing to plot")
    names = sorted(series)
    rows = math.ceil(len(names) / COLUMNS)
    columns = min(COLUMNS, len(names))
    figure, grid = plt.subplots(
        rows,
        columns,
        figsize=(columns * PANEL_INCHES[0], rows * PANEL_INCHES[1]),
        dpi=DPI,
        squeeze=False,
    )
    try:
        for index, axes in enumerate(grid.flat):
            if index < len(names):
                _draw_panel(axes, names[index], sorted(series[names[index]]))
            else:
                axes.set_visible(False)
        figure.tight_layout()
        with writing(path) as temporary:
            figure.savefig(temporary, format="png")
    finally:
        plt.close(figure)
    return path
