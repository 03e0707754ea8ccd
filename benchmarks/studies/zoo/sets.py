"""The zoo's data sets by name, and writing them (deterministic per seed).

python -m benchmarks.studies.zoo.sets OUT_DIR [--only NAME ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from benchmarks.studies.zoo.drawn import glyphs, scenes, textures
from benchmarks.studies.zoo.real import digits, photo, synth

#: name -> (writer, one line on what differs). Ordered from cheapest to dearest.
SETS: dict[str, tuple[Callable[[Path, int], None], str]] = {
    "digits": (digits, "10 real handwritten digit classes (3 unseen), 12 stroke predicates, 16 px"),
    "glyphs": (glyphs, "200 classes (50 unseen), 100 correlated predicates, 16 px, 6-18 per class"),
    "synth": (synth, "zsk data synth: 40 shape classes (10 unseen), 20 predicates, 24-40 px"),
    "textures": (textures, "36 texture classes (9 unseen), 16 continuous predicates, 32 px"),
    "scenes": (scenes, "36 scene classes (8 unseen), 18 binary predicates, 64 px, uneven sizes"),
    "photo": (photo, "27 classes of a real photograph's regions (6 unseen), 14 predicates, 128 px"),
}
DATA_SEED = 0


def write_set(name: str, out: Path, seed: int = DATA_SEED) -> Path:
    """Write set ``name`` under ``out/name`` unless it is there already; its folder."""
    folder = out / name
    if not (folder / "zoo.json").is_file():
        SETS[name][0](folder, seed)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", nargs="*", choices=sorted(SETS), default=list(SETS))
    args = parser.parse_args(argv)
    for name in args.only:
        print(f"{name}: {write_set(name, args.out)}")


if __name__ == "__main__":
    main()
