"""The embedded default data set: procedurally drawn shapes in the AwA2 on-disk layout.

Every class is a combination of visual attributes (shape, colour, pattern, background); its
predicates are the one-hot values of those plus four derived ones shared across values (round,
pointed, warm, patterned), like AwA2's mix of specific and general attributes. Unseen classes
are combinations never drawn in training, while every single attribute value occurs among the
seen classes (at least twice), so zero-shot recognition is possible by composing attributes.

Each image varies in position, scale, rotation, colour, noise and size (and aspect). Attributes
are bold enough to read at 32×32: large objects, saturated colours, coarse patterns.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from zsk.core.storage.files import make_folder, write_file, writing
from zsk.registry import UserError

SHAPES = ("circle", "square", "triangle", "cross", "star")
COLOURS = {
    "red": (225, 30, 30),
    "green": (30, 175, 45),
    "blue": (35, 70, 235),
    "yellow": (240, 215, 20),
    "magenta": (215, 40, 215),
    "cyan": (25, 205, 215),
}
PATTERNS = ("solid", "striped", "checkered")
BACKGROUNDS = {"light": 228, "dark": 28}

#: Derived predicates: name -> value (0..100) per attribute value; absent values score 0.
DERIVED = {
    "round": {"circle": 100, "square": 15, "cross": 10},
    "pointed": {"triangle": 100, "star": 100, "square": 30, "cross": 30},
    "warm": {"red": 100, "yellow": 90, "magenta": 70},
    "patterned": {"striped": 100, "checkered": 100},
}
GROUPS = (SHAPES, tuple(COLOURS), PATTERNS, tuple(BACKGROUNDS))
PREDICATES = (
    list(SHAPES)
    + list(COLOURS)
    + list(PATTERNS)
    + [f"{b}_background" for b in BACKGROUNDS]
    + list(DERIVED)
)

#: The embedded default data set: classes drawn, of which unseen.
DEFAULT_CLASSES = 48
DEFAULT_UNSEEN = 8
_MAX_ROTATION = 25.0  # degrees; beyond ~45 a square would read as a diamond


@dataclass(frozen=True)
class SynthClass:
    shape: str
    colour: str
    pattern: str
    background: str

    @property
    def name(self) -> str:
        return f"{self.colour}_{self.pattern}_{self.shape}_on_{self.background}"

    @property
    def values(self) -> tuple[str, str, str, str]:
        return (self.shape, self.colour, self.pattern, self.background)


@dataclass(frozen=True)
class SynthSummary:
    root: Path
    classes: list[str]
    seen: list[str]
    unseen: list[str]
    images: int
    predicates: int


def choose_classes(count: int, unseen: int, rng: np.random.Generator) -> tuple[list, list]:
    """``(seen, unseen)`` class combinations; every attribute value occurs ≥2× among the seen.

    Seen classes are picked greedily in a random order, each time a combination that covers
    the most attribute values still shown fewer than twice; the unseen ones are random
    combinations among the rest.
    """
    combos = [SynthClass(*values) for values in itertools.product(*GROUPS)]
    if not 2 <= count <= len(combos):
        raise UserError(f"--classes must be between 2 and {len(combos)}, got {count}")
    if not 1 <= unseen < count:
        raise UserError(f"--unseen must be between 1 and {count - 1}, got {unseen}")
    available = [combos[i] for i in rng.permutation(len(combos))]
    shown = [dict.fromkeys(group, 0) for group in GROUPS]

    def missing(c: SynthClass) -> int:
        return sum(max(0, 2 - shown[g][v]) for g, v in enumerate(c.values))

    seen = []
    for _ in range(count - unseen):
        best = max(available, key=missing)
        available.remove(best)
        seen.append(best)
        for g, value in enumerate(best.values):
            shown[g][value] += 1
    if any(n < 2 for group in shown for n in group.values()):
        raise UserError(
            f"{count - unseen} seen classes cannot show every attribute value twice",
            hint="use more classes or fewer unseen ones (e.g. the defaults: "
            f"{DEFAULT_CLASSES} classes, {DEFAULT_UNSEEN} unseen)",
        )
    return seen, available[:unseen]


def class_attributes(cls: SynthClass, rng: np.random.Generator) -> np.ndarray:
    """One row of the continuous matrix (0..100): crisp but not exactly 0/100, like AwA2's."""
    row = []
    for name in PREDICATES:
        derived = DERIVED.get(name)
        if derived is not None:
            base = max(derived.get(v, 0) for v in cls.values)
        else:
            base = 100 if name.removesuffix("_background") in cls.values else 0
        row.append(base)
    values = np.asarray(row, dtype=np.float64)
    jitter = rng.uniform(0, 12, size=values.shape)
    return np.round(np.where(values >= 50, values - jitter, values * 0.9 + jitter / 2), 2)


def _shape_mask(shape: str, side: int) -> Image.Image:
    """A white shape on black, inscribed in the central circle so rotation never clips it."""
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    c, r = side / 2, side * 0.47
    if shape == "circle":
        draw.ellipse([c - r, c - r, c + r, c + r], fill=255)
    elif shape == "square":
        h = r * 0.78
        draw.rectangle([c - h, c - h, c + h, c + h], fill=255)
    elif shape == "triangle":
        points = [(c + r * math.sin(a), c - r * math.cos(a)) for a in (0, 2.094, 4.189)]
        draw.polygon(points, fill=255)
    elif shape == "cross":
        w = r * 0.38
        draw.rectangle([c - w, c - r, c + w, c + r], fill=255)
        draw.rectangle([c - r, c - w, c + r, c + w], fill=255)
    else:  # star: five fat points
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else r * 0.5
            angle = k * math.pi / 5
            points.append((c + radius * math.sin(angle), c - radius * math.cos(angle)))
        draw.polygon(points, fill=255)
    return mask


def _fill(pattern: str, colour: np.ndarray, side: int) -> np.ndarray:
    """The object's surface (side, side, 3) uint8: its colour, with dark stripes or checks."""
    half = max(1.0, side / 7)
    bands = (np.arange(side) // half).astype(np.int64) % 2 == 1
    if pattern == "striped":
        dark = np.broadcast_to(bands[:, None], (side, side))
    elif pattern == "checkered":
        dark = bands[:, None] ^ bands[None, :]
    else:
        dark = np.zeros((side, side), dtype=bool)
    return np.where(dark[..., None], colour * 0.22, colour).astype(np.uint8)


def render(cls: SynthClass, rng: np.random.Generator, min_size: int, max_size: int) -> Image.Image:
    """One image of ``cls`` with random position, scale, rotation, colour, noise and size."""
    width = int(rng.integers(min_size, max_size + 1))
    height = int(np.clip(round(width * rng.uniform(0.8, 1.25)), min_size, max_size))
    background = np.clip(BACKGROUNDS[cls.background] + rng.uniform(-12, 12, size=3), 0, 255)
    canvas = Image.new("RGB", (width, height), tuple(int(v) for v in background))

    side = max(8, int(min(width, height) * rng.uniform(0.6, 0.85)))
    colour = np.clip(np.asarray(COLOURS[cls.colour]) * rng.uniform(0.85, 1.1, size=3), 0, 255)
    angle = float(rng.uniform(-_MAX_ROTATION, _MAX_ROTATION))
    mask = _shape_mask(cls.shape, side).rotate(angle, resample=Image.Resampling.BICUBIC)
    surface = Image.fromarray(_fill(cls.pattern, colour, side)).rotate(
        angle, resample=Image.Resampling.BILINEAR
    )
    left = int(rng.integers(0, width - side + 1))
    top = int(rng.integers(0, height - side + 1))
    canvas.paste(surface, (left, top), mask)

    noise = rng.standard_normal(size=(height, width, 3), dtype=np.float32) * np.float32(6)
    pixels = np.asarray(canvas, dtype=np.float32) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _write_index(path: Path, names: list[str]) -> None:
    _write(path, "".join(f"{i}\t{n}\n" for i, n in enumerate(names, 1)))


def _write(path: Path, text: str) -> None:
    """A generated data set is cheap to write again, so its files skip the flush to disk."""
    write_file(path, text, durable=False)


def synthesize(
    out: Path,
    *,
    classes: int = DEFAULT_CLASSES,
    unseen: int = DEFAULT_UNSEEN,
    images_per_class: int = 60,
    seed: int = 0,
    min_size: int = 40,
    max_size: int = 72,
) -> SynthSummary:
    """Write the data set to ``out`` in the AwA2 layout; the same seed writes the same bytes."""
    if images_per_class < 1:
        raise UserError(f"--images-per-class must be at least 1, got {images_per_class}")
    if not 16 <= min_size <= max_size:
        raise UserError(f"image sizes need 16 <= min ({min_size}) <= max ({max_size})")
    rng = np.random.default_rng(seed)
    seen, held = choose_classes(classes, unseen, rng)
    ordered = sorted(seen + held, key=lambda c: c.name)
    names = [c.name for c in ordered]
    matrix = np.stack([class_attributes(c, rng) for c in ordered])

    make_folder(out)
    _write_index(out / "classes.txt", names)
    _write_index(out / "predicates.txt", PREDICATES)
    rows = [" ".join(f"{v:.2f}" for v in row) for row in matrix]
    _write(out / "predicate-matrix-continuous.txt", "\n".join(rows) + "\n")
    binary = [" ".join(str(int(v >= 50)) for v in row) for row in matrix]
    _write(out / "predicate-matrix-binary.txt", "\n".join(binary) + "\n")
    _write(
        out / "trainclasses.txt", "".join(f"{c.name}\n" for c in sorted(seen, key=lambda c: c.name))
    )
    _write(
        out / "testclasses.txt", "".join(f"{c.name}\n" for c in sorted(held, key=lambda c: c.name))
    )
    settings = {
        "generator": "zsk data synth",
        "seed": seed,
        "classes": classes,
        "unseen": unseen,
        "images_per_class": images_per_class,
        "min_size": min_size,
        "max_size": max_size,
    }
    _write(out / "synth.json", json.dumps(settings, indent=2) + "\n")

    for label, cls in enumerate(ordered):
        folder = out / "JPEGImages" / cls.name
        image_rng = np.random.default_rng([seed, label])
        for i in range(images_per_class):
            image = render(cls, image_rng, min_size, max_size)
            with writing(folder / f"{cls.name}_{10001 + i}.jpg", durable=False) as temporary:
                image.save(temporary, quality=92)
    return SynthSummary(
        root=out,
        classes=names,
        seen=sorted(c.name for c in seen),
        unseen=sorted(c.name for c in held),
        images=len(ordered) * images_per_class,
        predicates=len(PREDICATES),
    )
