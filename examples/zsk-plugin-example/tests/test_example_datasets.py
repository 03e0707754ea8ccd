"""The class_table data format: zsk's data set contract, and what it reads."""

from __future__ import annotations

import pytest
from PIL import Image
from zsk.registry import UserError
from zsk.testing import check_component

from zsk_plugin_example.datasets import ClassTable

ROWS = [("zebra", "seen", 1, 0), ("whale", "seen", 0, 1), ("okapi", "unseen", 1, 1)]


def write_table(root, rows=ROWS, images=3):
    lines = ["class,split,stripes,water"] + [",".join(map(str, row)) for row in rows]
    (root / "classes.csv").write_text("\n".join(lines) + "\n")
    for name, *_ in rows:
        folder = root / "images" / name
        folder.mkdir(parents=True)
        for index in range(images):
            Image.new("RGB", (8, 8), (index * 40, 0, 0)).save(folder / f"{index}.png")
    return root


def test_meets_the_zsk_contract(tmp_path):
    check_component(ClassTable, params={"root": str(write_table(tmp_path))})


def test_reads_classes_split_attributes_and_images(tmp_path):
    data = ClassTable(ClassTable.Params(root=str(write_table(tmp_path)))).load()
    assert data.classes == ["zebra", "whale", "okapi"] and data.predicates == ["stripes", "water"]
    assert data.attributes.tolist() == [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    assert (data.seen, data.unseen) == ([0, 1], [2])
    assert len(data.train) + len(data.test_seen) == 6 and len(data.test_unseen) == 3


def test_a_bad_row_names_file_and_line(tmp_path):
    write_table(tmp_path, rows=[*ROWS[:2], ("okapi", "maybe", 1, 1)])
    with pytest.raises(UserError) as caught:
        ClassTable(ClassTable.Params(root=str(tmp_path))).load()
    assert caught.value.where == f"{tmp_path / 'classes.csv'}:4"
