"""A folder in the class_table format, written for a test."""

from __future__ import annotations

import pytest
from PIL import Image

ROWS = [("zebra", "seen", 1, 0), ("whale", "seen", 0, 1), ("okapi", "unseen", 1, 1)]


@pytest.fixture
def rows():
    """Three classes (two seen, one unseen) with two attributes each."""
    return list(ROWS)


@pytest.fixture
def write_table():
    """``write_table(root, rows=ROWS, images=3)``: classes.csv and images/<class>/ in ``root``."""

    def write(root, rows=ROWS, images=3):
        lines = ["class,split,stripes,water"] + [",".join(map(str, row)) for row in rows]
        (root / "classes.csv").write_text("\n".join(lines) + "\n")
        for name, *_ in rows:
            folder = root / "images" / name
            folder.mkdir(parents=True)
            for index in range(images):
                Image.new("RGB", (8, 8), (index * 40, 0, 0)).save(folder / f"{index}.png")
        return root

    return write
