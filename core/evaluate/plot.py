"""Loss curves drawn with Pillow: one small panel per logged quantity.

Pillow is already a dependency; matplotlib would be a heavy one for a handful of line charts, so
zsk draws them itself. Each panel has its own y range (the terms' scales differ by orders of
magnitude), the raw values in a light colour and a moving average over them in a dark one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from zsk.core.files import writing

PANEL = (360, 220)
MARGIN = (58, 28, 14, 30)  # left, top, right, bottom
COLUMNS = 3
RAW = (170, 190, 225)
SMOOTH = (25, 65, 160)
AXIS = (90, 90, 90)
LOSS_PREFIXES = ("d", "g")
NOT_PLOTTED = frozenset({"time", "epoch"})


def read_metrics(path: Path) -> dict[str, list[tuple[float, float]]]:
    """Series (step, value) per numeric key of a metrics.jsonl file; bad lines are skipped."""
    series: dict[str, list[tuple[float, float]]] = {}
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


def split_losses(
    series: dict[str, list[tuple[float, float]]],
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[tuple[float, float]]]]:
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


def _label(value: float) -> str:
    return f"{value:.3g}"


def _panel(name: str, points: list[tuple[float, float]], font) -> Image.Image:
    width, height = PANEL
    left, top, right, bottom = MARGIN
    image = Image.new("RGB", PANEL, "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), name, fill="black", font=font)
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(values), max(values)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(step: float, value: float) -> tuple[float, float]:
        return (
            left + (step - x0) / (x1 - x0) * plot_w,
            top + (1 - (value - y0) / (y1 - y0)) * plot_h,
        )

    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=AXIS)
    draw.text((4, top - 4), _label(y1), fill=AXIS, font=font)
    draw.text((4, top + plot_h - 8), _label(y0), fill=AXIS, font=font)
    draw.text((left, top + plot_h + 6), _label(x0), fill=AXIS, font=font)
    end = _label(max(steps))
    draw.text((left + plot_w - 6 * len(end), top + plot_h + 6), f"{end}", fill=AXIS, font=font)
    window = max(1, len(values) // 20)
    for series, colour in ((values, RAW), (moving_average(values, window), SMOOTH)):
        line = [xy(s, v) for s, v in zip(steps, series, strict=True)]
        if len(line) == 1:
            x, y = line[0]
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        else:
            draw.line(line, fill=colour, width=1 if colour == RAW else 2)
    return image


def plot_series(series: dict[str, list[tuple[float, float]]], path: Path) -> Path:
    """Draw every series as a panel in a grid of ``COLUMNS`` columns and save a PNG."""
    if not series:
        raise ValueError("nothing to plot")
    font = ImageFont.load_default()
    names = sorted(series)
    rows = math.ceil(len(names) / COLUMNS)
    columns = min(COLUMNS, len(names))
    canvas = Image.new("RGB", (columns * PANEL[0], rows * PANEL[1]), "white")
    for index, name in enumerate(names):
        panel = _panel(name, sorted(series[name]), font)
        canvas.paste(panel, ((index % COLUMNS) * PANEL[0], (index // COLUMNS) * PANEL[1]))
    with writing(path) as temporary:
        canvas.save(temporary)
    return path
