"""A data format: one CSV names every class, its split and its attributes."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from pydantic import Field
from zsk.api import Dataset, UserError, ZslData, assemble, class_images, require_folder

SPLITS = ("seen", "unseen")


class ClassTable(Dataset):
    """classes.csv (class, split, one column per attribute) and a folder of images per class.

    The header is ``class,split,ATTRIBUTE,...``; each row names a class, ``seen`` or ``unseen``
    and its attribute values. Images are in ``images/<class>/``. `zsk data check DIR` finds
    the format by its ``classes.csv``.
    """

    name = "class_table"
    marker_files = ("classes.csv",)

    class Params(Dataset.Params):
        root: str = Field("data/table", description="folder holding classes.csv and images/")
        seen_test_fraction: float = Field(
            0.2, ge=0, lt=1, description="share of each seen class's images tested (GZSL)"
        )

    params: Params  # what zsk hands the constructor: this component's own Params

    def load(self) -> ZslData:
        root = Path(self.params.root).expanduser()
        require_folder(root)
        table = root / "classes.csv"
        if not table.is_file():
            raise UserError("classes.csv not found", where=str(table), hint="see the docstring")
        with table.open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
        header, body = rows[0], rows[1:]
        if header[:2] != ["class", "split"] or len(header) < 3:
            raise UserError("header must be class,split,ATTRIBUTE,...", where=f"{table}:1")
        classes: list[str] = []
        values: list[list[float]] = []
        split: dict[str, dict[str, int]] = {"seen": {}, "unseen": {}}
        for line, row in enumerate(body, start=2):
            if len(row) != len(header) or row[1] not in SPLITS:
                raise UserError(
                    f"expected {len(header)} fields with split seen or unseen",
                    where=f"{table}:{line}",
                )
            classes.append(row[0])
            split[row[1]][row[0]] = line
            try:
                values.append([float(v) for v in row[2:]])
            except ValueError:
                raise UserError(
                    "attribute values must be numbers", where=f"{table}:{line}"
                ) from None
        return assemble(
            root=root,
            classes=classes,
            predicates=header[2:],
            attributes=torch.tensor(values),
            seen=split["seen"],
            unseen=split["unseen"],
            seen_file=table,
            unseen_file=table,
            images_of=lambda name, at: class_images(root / "images" / name, name, at),
            seen_test_fraction=self.params.seen_test_fraction,
            split_seed=0,
        )
