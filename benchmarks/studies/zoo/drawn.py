"""Procedurally drawn zoo families: textures, scenes and 200 glyph classes.

Each family is a function ``(out, seed)`` writing one data set (benchmarks/studies/zoo/folder.py).
Classes are combinations of factors; unseen classes are combinations never drawn in training,
chosen so every attribute value still occurs among the seen classes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.studies.zoo.folder import noisy, pick_unseen, uneven_counts, write_folder

HUES = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 230)}


def textures(out: Path, seed: int) -> None:
    """36 texture classes (pattern × frequency × hue), 9 unseen, 32 px, 16 continuous and
    correlated predicates; nuisance: phase, orientation jitter, brightness, pixel noise."""
    patterns, freqs = ("stripes", "checks", "dots", "rings"), {"coarse": 3, "medium": 5, "fine": 8}
    combos = list(itertools.product(patterns, freqs, HUES))
    names = [f"{h}_{f}_{p}" for p, f, h in combos]
    predicates = [*patterns, "frequency", "red", "green", "blue", "warm", "busy", "radial"]
    predicates += ["oriented", "grid", "round_blobs", "brightness", "contrast"]
    rng = np.random.default_rng(seed)
    rows = []
    for p, f, h in combos:
        freq = (freqs[f] - 3) / 5
        colour = np.asarray(HUES[h]) / 255
        row = [float(p == q) for q in patterns] + [freq, *colour, colour[0] * 0.9]
        row += [freq * 0.8 + 0.2 * (p == "checks"), float(p in ("rings", "dots")) * 0.9]
        row += [float(p == "stripes"), float(p in ("checks", "dots")), float(p == "dots")]
        row += [colour.mean(), 0.4 + 0.5 * freq * (p != "dots")]
        rows.append(row)
    values = np.clip(np.asarray(rows) + rng.uniform(-0.04, 0.04, (len(rows), len(rows[0]))), 0, 1)
    unseen = pick_unseen(names, values, 9, rng)
    size = 32
    yy, xx = np.mgrid[0:size, 0:size] / size

    def draw(label: int, r: np.random.Generator) -> np.ndarray:
        p, f, h = combos[label]
        k = freqs[f] * r.uniform(0.85, 1.15) * 2 * np.pi
        angle = r.uniform(-0.3, 0.3)
        u = xx * np.cos(angle) + yy * np.sin(angle) + r.uniform(0, 1)
        v = -xx * np.sin(angle) + yy * np.cos(angle) + r.uniform(0, 1)
        if p == "stripes":
            wave = np.sin(k * u)
        elif p == "checks":
            wave = np.sign(np.sin(k * u)) * np.sign(np.sin(k * v))
        elif p == "dots":
            wave = (np.sin(k * u) * np.sin(k * v) > 0.5) * 2.0 - 1
        else:
            cx, cy = r.uniform(0.3, 0.7, 2)
            wave = np.sin(k * np.hypot(xx - cx, yy - cy) * 1.5)
        shade = (wave[..., None] * 0.5 + 0.5) * r.uniform(0.8, 1.1)
        pixels = shade * np.asarray(HUES[h]) + (1 - shade) * 25
        return noisy(pixels, 14, r)

    counts = uneven_counts(len(names), 20, 45, rng)
    about = {"family": "textures", "image_size": size}
    write_folder(out, names, predicates, values, unseen, counts, draw, seed, about)


SKIES = {"day": (120, 170, 235), "dusk": (235, 140, 70), "night": (20, 25, 60)}
GROUNDS = {"grass": (60, 150, 50), "sand": (215, 190, 120), "snow": (240, 240, 245)}
GROUNDS |= {"water": (40, 90, 180)}


def scenes(out: Path, seed: int) -> None:
    """Scenes at 64 px (sky × ground × a tree or a house or nothing): 36 classes, 8 unseen,
    uneven class sizes, 18 binary predicates, several of them correlated (night → dark)."""
    things = ("tree", "house", "empty")
    combos = list(itertools.product(SKIES, GROUNDS, things))
    names = [f"{t}_{g}_{s}" for s, g, t in combos]
    predicates = [*SKIES, *GROUNDS, *things, "dark", "bright", "cold", "wet", "built"]
    predicates += ["natural", "sun_or_moon", "warm_light"]
    rows = []
    for s, g, t in combos:
        row = [float(s == q) for q in SKIES] + [float(g == q) for q in GROUNDS]
        row += [float(t == q) for q in things] + [float(s == "night"), float(s == "day")]
        row += [float(g in ("snow", "water")), float(g == "water"), float(t == "house")]
        row += [float(t == "tree"), float(s != "dusk"), float(s == "dusk" or g == "sand")]
        rows.append(row)
    values = np.asarray(rows)
    rng = np.random.default_rng(seed)
    unseen = pick_unseen(names, values, 8, rng)
    size = 64

    def draw(label: int, r: np.random.Generator) -> np.ndarray:
        s, g, t = combos[label]
        horizon = int(size * r.uniform(0.45, 0.65))
        image = Image.new("RGB", (size, size), SKIES[s])
        pen = ImageDraw.Draw(image)
        pen.rectangle([0, horizon, size, size], fill=GROUNDS[g])
        if s != "dusk":  # the sun by day, the moon by night
            x, y, radius = r.uniform(5, size - 5), r.uniform(4, horizon * 0.5), r.uniform(3, 6)
            pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(250, 240, 190))
        x, height = r.uniform(12, size - 12), r.uniform(14, 24)
        if t == "tree":
            pen.rectangle([x - 2, horizon - height * 0.4, x + 2, horizon + 2], fill=(90, 60, 30))
            pen.ellipse(
                [x - 8, horizon - height, x + 8, horizon - height * 0.3], fill=(20, 100, 30)
            )
        elif t == "house":
            w = height * 0.6
            pen.rectangle([x - w, horizon - height * 0.6, x + w, horizon + 2], fill=(170, 60, 50))
            pen.polygon([(x - w - 2, horizon - height * 0.6), (x + w + 2, horizon - height * 0.6),
                         (x, horizon - height)], fill=(90, 40, 40))  # fmt: skip
        pixels = np.asarray(image, dtype=np.float64) * r.uniform(0.85, 1.1)
        return noisy(pixels, 8, r)

    counts = uneven_counts(len(names), 12, 48, rng)
    about = {"family": "scenes", "image_size": size}
    write_folder(out, names, predicates, values, unseen, counts, draw, seed, about)


GLYPH_COLOURS = ((230, 40, 40), (40, 180, 60), (40, 80, 235), (235, 215, 30), (210, 50, 210))
GLYPH_COLOURS += ((30, 200, 210), (245, 140, 20), (250, 250, 250))
BACKDROPS = (15, 70, 125, 180, 235)
SHAPES = ("disc", "box", "bar", "wedge", "ring")


def glyphs(out: Path, seed: int) -> None:
    """200 classes at 16 px (5 shapes × 8 colours × 5 backdrop shades), 50 unseen, 100
    predicates: the 18 factor values, plus 82 continuous ones that mix them (correlated)."""
    combos = list(itertools.product(range(5), range(8), range(5)))
    names = [f"glyph_{s}{c}{b}" for s, c, b in combos]
    rng = np.random.default_rng(seed)
    onehot = np.zeros((len(combos), 18))
    for i, (s, c, b) in enumerate(combos):
        onehot[i, [s, 5 + c, 13 + b]] = 1
    mixing = rng.normal(0, 1.2, (18, 82)) * (rng.uniform(size=(18, 82)) < 0.3)
    mixed = 1 / (1 + np.exp(-(onehot @ mixing)))
    values = np.concatenate([onehot, mixed], axis=1)
    predicates = [*SHAPES, *(f"colour{c}" for c in range(8)), *(f"shade{b}" for b in range(5))]
    predicates += [f"mix{k:02d}" for k in range(82)]
    unseen = pick_unseen(names, values, 50, rng)
    size = 16

    def draw(label: int, r: np.random.Generator) -> np.ndarray:
        s, c, b = combos[label]
        shade = BACKDROPS[b] + r.uniform(-8, 8)
        image = Image.new("RGB", (size * 2, size * 2), (int(shade),) * 3)
        pen = ImageDraw.Draw(image)
        x, y, radius = r.uniform(12, 20), r.uniform(12, 20), r.uniform(7, 10)
        box, colour = [x - radius, y - radius, x + radius, y + radius], GLYPH_COLOURS[c]
        if SHAPES[s] == "disc":
            pen.ellipse(box, fill=colour)
        elif SHAPES[s] == "box":
            pen.rectangle(box, fill=colour)
        elif SHAPES[s] == "bar":
            pen.rectangle([x - radius, y - 3, x + radius, y + 3], fill=colour)
        elif SHAPES[s] == "wedge":
            pen.polygon([(x, y - radius), (x + radius, y + radius), (x - radius, y + radius)],
                        fill=colour)  # fmt: skip
        else:
            pen.ellipse(box, outline=colour, width=4)
        small = image.resize((size, size), Image.Resampling.BILINEAR)
        return noisy(np.asarray(small, dtype=np.float64), 6, r)

    counts = uneven_counts(len(names), 6, 18, rng)
    about = {"family": "glyphs", "image_size": size}
    write_folder(out, names, predicates, values, unseen, counts, draw, seed, about)
