"""Writing a zoo data set in zsk's ``image_folder`` layout (docs/own-data.md).

``images/<class>/<n>.png``, ``attributes.csv`` (values in [0, 1]), ``seen.txt``, ``unseen.txt``
and ``zoo.json`` (what drew it). PNG keeps the pixels exact, so a set is the same bytes for the
same seed on every machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_folder(
    out: Path,
    classes: Sequence[str],
    predicates: Sequence[str],
    attributes: np.ndarray,
    unseen: Sequence[str],
    counts: Sequence[int],
    draw: Callable[[int, np.random.Generator], np.ndarray],
    seed: int,
    about: dict[str, object],
) -> None:
    """Write ``counts[c]`` images of class ``c``, each ``draw(c, rng)`` (H×W×3 uint8)."""
    attributes = np.asarray(attributes, dtype=np.float64)
    if attributes.shape != (len(classes), len(predicates)):
        raise ValueError(f"attributes {attributes.shape} for {len(classes)}×{len(predicates)}")
    if attributes.min() < 0 or attributes.max() > 1:
        raise ValueError("attribute values must lie in [0, 1]")
    out.mkdir(parents=True, exist_ok=True)
    header = ",".join(["class", *predicates])
    rows = [
        ",".join([name, *(f"{v:.4f}" for v in row)])
        for name, row in zip(classes, attributes, strict=True)
    ]
    (out / "attributes.csv").write_text("\n".join([header, *rows]) + "\n")
    unseen_set = set(unseen)
    (out / "seen.txt").write_text("".join(f"{c}\n" for c in classes if c not in unseen_set))
    (out / "unseen.txt").write_text("".join(f"{c}\n" for c in classes if c in unseen_set))
    for label, name in enumerate(classes):
        folder = out / "images" / name
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, label])
        for i in range(counts[label]):
            Image.fromarray(draw(label, rng)).save(folder / f"{i:04d}.png")
    summary = {**about, "seed": seed, "classes": len(classes), "unseen": len(unseen_set)}
    summary |= {"predicates": len(predicates), "images": int(sum(counts))}
    (out / "zoo.json").write_text(json.dumps(summary, indent=2) + "\n")


def uneven_counts(count: int, low: int, high: int, rng: np.random.Generator) -> list[int]:
    """Images per class drawn log-uniformly between ``low`` and ``high`` (class imbalance)."""
    values = np.exp(rng.uniform(np.log(low), np.log(high), size=count))
    return [int(round(v)) for v in values]


def pick_unseen(
    classes: Sequence[str], values: np.ndarray, count: int, rng: np.random.Generator
) -> list[str]:
    """``count`` classes to hold out such that every predicate column that varies still varies
    among the rest (every attribute value stays learnable from seen classes)."""
    binary = np.asarray(values) >= 0.5
    for _ in range(1000):
        chosen = rng.choice(len(classes), size=count, replace=False)
        rest = np.setdiff1d(np.arange(len(classes)), chosen)
        varies = binary.any(0) & ~binary.all(0)
        if np.all(binary[rest].any(0) >= varies) and np.all((~binary[rest]).any(0) >= varies):
            return sorted(classes[i] for i in chosen)
    raise ValueError("no unseen choice keeps every attribute value among the seen classes")


def noisy(pixels: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``pixels`` (float, 0..255) plus Gaussian noise, as uint8."""
    noise = rng.standard_normal(pixels.shape) * sigma
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)
