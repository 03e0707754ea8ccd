"""The class_table data format: zsk's data set contract, and what it reads."""

from __future__ import annotations

import pytest
from zsk.api import UserError, check_component

from zsk_plugin_example.datasets import ClassTable


def test_meets_the_zsk_contract(tmp_path, write_table):
    check_component(ClassTable, params={"root": str(write_table(tmp_path))})


def test_reads_classes_split_attributes_and_images(tmp_path, write_table):
    data = ClassTable(ClassTable.Params(root=str(write_table(tmp_path)))).load()
    assert data.classes == ["zebra", "whale", "okapi"] and data.predicates == ["stripes", "water"]
    assert data.attributes.tolist() == [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    assert (data.seen, data.unseen) == ([0, 1], [2])
    assert len(data.train) + len(data.test_seen) == 6 and len(data.test_unseen) == 3


def test_a_bad_row_names_file_and_line(tmp_path, write_table, rows):
    write_table(tmp_path, rows=[*rows[:2], ("okapi", "maybe", 1, 1)])
    with pytest.raises(UserError) as caught:
        ClassTable(ClassTable.Params(root=str(tmp_path))).load()
    assert caught.value.where == f"{tmp_path / 'classes.csv'}:4"
