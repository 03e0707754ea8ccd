"""Built-in data sets: the AwA2 on-disk layout, and image folders with a CSV of attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from zsk.core.data.readers import (
    class_folder,
    class_images,
    read_attribute_csv,
    read_class_list,
    read_index,
    read_matrix,
    require_folder,
    resolve,
)
from zsk.core.data.split import assemble, scale_attributes
from zsk.core.data.types import ZslData
from zsk.core.interfaces import Dataset
from zsk.registry import hookimpl

_FRACTION = Field(
    0.2,
    ge=0,
    lt=1,
    description="share of each seen class's images held out as the seen test set (GZSL)",
)
_SPLIT_SEED = Field(0, description="seed of the held-out choice (deterministic per class)")
_ROWS = Field(
    "none",
    description="'l2': scale every class's attribute row to unit length, as the field's "
    "benchmark files (att_splits.mat) do",
)


class _ClassFolders(Dataset):
    """Images in one folder per class, split by seen and unseen class lists; its ``Params`` has
    ``images``, ``seen_classes``, ``unseen_classes``, ``seen_test_fraction`` and ``split_seed``."""

    def _assemble(
        self, root: Path, classes: list[str], predicates: list[str], attributes: torch.Tensor
    ) -> ZslData:
        p = self.params
        images = resolve(root, p.images)
        seen_file, unseen_file = resolve(root, p.seen_classes), resolve(root, p.unseen_classes)
        return assemble(
            root=root,
            classes=classes,
            predicates=predicates,
            attributes=attributes,
            seen=read_class_list(seen_file, classes),
            unseen=read_class_list(unseen_file, classes),
            seen_file=seen_file,
            unseen_file=unseen_file,
            images_of=lambda name, at: class_images(class_folder(images, name, at), name, at),
            seen_test_fraction=p.seen_test_fraction,
            split_seed=p.split_seed,
        )


class Awa2(_ClassFolders):
    """Animals with Attributes 2 in its official layout (also what `zsk data synth` writes)."""

    name = "awa2"
    marker_files = ("classes.txt",)

    class Params(Dataset.Params):
        root: str = Field("data/shapes", description="folder holding classes.txt")
        matrix: Literal["continuous", "binary"] = Field(
            "continuous",
            description="predicate-matrix-continuous.txt (divided by 100) or -binary.txt (0/1)",
        )
        rows: Literal["none", "l2"] = _ROWS
        seen_classes: str = Field(
            "trainclasses.txt",
            description="seen class list, relative to root; e.g. the proposed split's "
            "trainvalclasses.txt",
        )
        unseen_classes: str = Field(
            "testclasses.txt",
            description="unseen class list, relative to root (the download's file is the older "
            "Lampert split; give the proposed split's list to compare with the field)",
        )
        images: str = Field("JPEGImages", description="folder of class folders, relative to root")
        seen_test_fraction: float = _FRACTION
        split_seed: int = _SPLIT_SEED

    def load(self) -> ZslData:
        p = self.params
        root = Path(p.root).expanduser()
        require_folder(root)
        index = root / "classes.txt"
        classes = read_index(index, "class index")
        predicates = read_index(root / "predicates.txt", "predicate index")
        matrix = read_matrix(
            root / f"predicate-matrix-{p.matrix}.txt",
            len(classes),
            len(predicates),
            rows_from=str(index),
            cols_from=str(root / "predicates.txt"),
        )
        divide_by = 100.0 if p.matrix == "continuous" else 1.0
        attributes = scale_attributes(matrix, divide_by, p.rows)
        return self._assemble(root, classes, predicates, attributes)


class ImageFolder(_ClassFolders):
    """Your own images: one folder per class, a CSV of class attributes, seen/unseen lists."""

    name = "image_folder"
    marker_files = ("attributes.csv",)

    class Params(Dataset.Params):
        root: str = Field("data/own", description="the data set's folder")
        attributes: str = Field(
            "attributes.csv",
            description="CSV (or TSV) relative to root: header 'class,PREDICATE,...', then one "
            "row per class",
        )
        divide_by: float = Field(
            1.0, gt=0, description="divide every attribute value by this (100 for 0–100 values)"
        )
        rows: Literal["none", "l2"] = _ROWS
        images: str = Field("images", description="folder of class folders, relative to root")
        seen_classes: str = Field("seen.txt", description="seen class names, one per line")
        unseen_classes: str = Field("unseen.txt", description="unseen class names, one per line")
        seen_test_fraction: float = _FRACTION
        split_seed: int = _SPLIT_SEED

    def load(self) -> ZslData:
        p = self.params
        root = Path(p.root).expanduser()
        require_folder(root)
        classes, predicates, matrix = read_attribute_csv(resolve(root, p.attributes))
        attributes = scale_attributes(matrix, p.divide_by, p.rows)
        return self._assemble(root, classes, predicates, attributes)


@hookimpl
def zsk_register_components(register):
    register(Awa2)
    register(ImageFolder)
