"""Zoo families made of real images that installed packages ship, and `zsk data synth`'s.

- ``digits``: scikit-learn's bundled handwritten digits (1,797 real 8×8 scans), with
  hand-defined stroke predicates per digit; nothing is downloaded.
- ``photo``: 128-px crops of matplotlib's bundled photograph (grace_hopper.jpg) from a 3×3
  grid of regions, under three colour treatments; predicates are the region's row and column,
  the treatment, and continuous measures of the region's own pixels (brightness, edges).
- ``synth``: `zsk data synth`'s drawn shapes, rewritten in the image_folder layout.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.studies.zoo.folder import noisy, pick_unseen, uneven_counts, write_folder

#: Per digit 0–9: closed_loop, two_loops, loop_top, loop_bottom, vertical_stroke, top_bar,
#: middle_bar, bottom_bar, diagonal, curved, open_left, straight_only.
DIGIT_STROKES = {
    0: (1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0),
    1: (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1),
    2: (0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0),
    3: (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0),
    4: (0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1),
    5: (0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0),
    6: (1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0),
    7: (0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1),
    8: (1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0),
    9: (1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0),
}
STROKES = ("closed_loop", "two_loops", "loop_top", "loop_bottom", "vertical_stroke", "top_bar")
STROKES += ("middle_bar", "bottom_bar", "diagonal", "curved", "open_left", "straight_only")


def digits(out: Path, seed: int) -> None:
    """10 digit classes, 3 unseen, 12 binary predicates, 16 px, uneven class sizes (real)."""
    from sklearn.datasets import load_digits  # the benchmark's optional extra (pyproject: zoo)

    scans = load_digits()
    names = [f"digit_{d}" for d in range(10)]
    values = np.asarray([DIGIT_STROKES[d] for d in range(10)], dtype=np.float64)
    rng = np.random.default_rng(seed)
    unseen = pick_unseen(names, values, 3, rng)
    counts = uneven_counts(10, 50, 170, rng)
    pools = {d: list(rng.permutation(np.flatnonzero(scans.target == d))) for d in range(10)}

    def draw(label: int, r: np.random.Generator) -> np.ndarray:
        scan = scans.images[pools[label].pop()] * (255 / 16)
        image = Image.fromarray(scan.astype(np.uint8)).resize((16, 16), Image.Resampling.BILINEAR)
        return np.repeat(np.asarray(image)[..., None], 3, axis=2)

    about = {"family": "digits (scikit-learn load_digits)", "image_size": 16}
    write_folder(out, names, STROKES, values, unseen, counts, draw, seed, about)


TREATMENTS = ("colour", "grey", "inverted")


def _treated(crop: Image.Image, treatment: str) -> np.ndarray:
    pixels = np.asarray(crop, dtype=np.float64)
    if treatment == "grey":
        pixels = np.repeat(pixels.mean(axis=2, keepdims=True), 3, axis=2)
    elif treatment == "inverted":
        pixels = 255 - pixels
    return pixels


def photo(out: Path, seed: int) -> None:
    """27 classes (3×3 regions of a real photograph × 3 treatments), 6 unseen, 128 px, 14
    predicates (9 binary, 5 continuous measured on the region)."""
    from matplotlib import cbook

    source = Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    width, height = source.size
    cells = [(row, col) for row in range(3) for col in range(3)]
    combos = [(cell, t) for cell in cells for t in TREATMENTS]
    names = [f"r{row}c{col}_{t}" for (row, col), t in combos]
    crop_side = 160

    def centre(cell: tuple[int, int]) -> tuple[float, float]:
        row, col = cell
        return (width * (col + 0.5) / 3, height * (row + 0.5) / 3)

    def region(cell: tuple[int, int], dx: float = 0, dy: float = 0) -> Image.Image:
        x, y = centre(cell)
        x = float(np.clip(x + dx, crop_side / 2, width - crop_side / 2))
        y = float(np.clip(y + dy, crop_side / 2, height - crop_side / 2))
        half = crop_side / 2
        return source.crop((int(x - half), int(y - half), int(x + half), int(y + half)))

    measures = {}
    for cell in cells:
        grey = np.asarray(region(cell).convert("L"), dtype=np.float64) / 255
        edges = np.asarray(region(cell).convert("L").filter(ImageFilter.FIND_EDGES)) / 255
        colour = np.asarray(region(cell), dtype=np.float64) / 255
        measures[cell] = (grey.mean(), min(1.0, edges.mean() * 4), colour[..., 2].mean())
    predicates = ["top", "middle", "bottom", "left", "centre", "right", *TREATMENTS]
    predicates += ["region_brightness", "region_edges", "region_blueness", "shown_bright", "busy"]
    rows = []
    for (row, col), t in combos:
        bright, edges, blue = measures[(row, col)]
        shown = 1 - bright if t == "inverted" else bright
        place = [float(row == k) for k in range(3)] + [float(col == k) for k in range(3)]
        measured = [bright, edges, blue * (t == "colour"), shown, edges * 0.5 + 0.5 * (row == 0)]
        rows.append(place + [float(t == k) for k in TREATMENTS] + measured)
    values = np.asarray(rows)
    rng = np.random.default_rng(seed)
    unseen = pick_unseen(names, values, 6, rng)

    def draw(label: int, r: np.random.Generator) -> np.ndarray:
        cell, treatment = combos[label]
        crop = region(cell, *r.uniform(-24, 24, 2)).resize((128, 128), Image.Resampling.BILINEAR)
        if r.uniform() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return noisy(_treated(crop, treatment) * r.uniform(0.85, 1.1), 10, r)

    counts = uneven_counts(len(names), 14, 30, rng)
    about = {"family": "photo (matplotlib sample grace_hopper.jpg)", "image_size": 128}
    write_folder(out, names, predicates, values, unseen, counts, draw, seed, about)


def synth(out: Path, seed: int) -> None:
    """`zsk data synth`: 40 drawn-shape classes, 10 unseen, 30 images each, 24–40 px."""
    from zsk.core.data.synth import synthesize

    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        drawn = Path(scratch) / "synth"
        summary = synthesize(
            drawn, classes=40, unseen=10, images_per_class=30, seed=seed, min_size=24, max_size=40
        )
        predicates = [line.split("\t")[1] for line in _lines(drawn / "predicates.txt")]
        matrix = np.loadtxt(drawn / "predicate-matrix-continuous.txt") / 100
        out.mkdir(parents=True, exist_ok=True)
        header = ",".join(["class", *predicates])
        rows = [
            ",".join([n, *(f"{v:.4f}" for v in row)])
            for n, row in zip(summary.classes, matrix, strict=True)
        ]
        (out / "attributes.csv").write_text("\n".join([header, *rows]) + "\n")
        (out / "seen.txt").write_text("".join(f"{c}\n" for c in summary.seen))
        (out / "unseen.txt").write_text("".join(f"{c}\n" for c in summary.unseen))
        shutil.move(str(drawn / "JPEGImages"), str(out / "images"))
    about = {"family": "zsk data synth", "image_size": 32, "seed": seed, "classes": 40}
    about |= {"unseen": 10, "predicates": len(predicates), "images": summary.images}
    (out / "zoo.json").write_text(json.dumps(about, indent=2) + "\n")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]
