"""Built-in data sets: the AwA2 on-disk layout, and image folders with a CSV of attributes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zsk.core.components.zsl_data import ZslData
from zsk.core.data.readers import (
    class_folder,
    class_images,
    read_attribute_csv,
    read_index,
    read_matrix,
    resolve,
)
from zsk.plugins.builtin.datasets.image_split import ImageReader, ImageReaderParams
from zsk.registry import hookimpl

_ROWS = Field(
    "none",
    description="'l2': scale every class's attribute row to unit length, as the field's "
    "benchmark files (att_splits.mat) do",
)


class Awa2(ImageReader):
    """Animals with Attributes 2 in its official layout (also what `zsk data synth` writes)."""

    name = "awa2"
    marker_files = ("classes.txt",)

    class Params(ImageReaderParams):
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

    def load(self) -> ZslData:
        p = self.params
        root = self.root()
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
        images = resolve(root, p.images)
        return self.split(
            root,
            classes,
            predicates,
            matrix,
            100.0 if p.matrix == "continuous" else 1.0,
            images_of=lambda name, at: class_images(class_folder(images, name, at), name, at),
            listed_at=lambda label: f"{index}:{label + 1}",
        )


class ImageFolder(ImageReader):
    """Your own images: one folder per class, a CSV of class attributes, seen/unseen lists."""

    name = "image_folder"
    marker_files = ("attributes.csv",)

    class Params(ImageReaderParams):
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

    def load(self) -> ZslData:
        p = self.params
        root = self.root()
        classes, predicates, matrix = read_attribute_csv(resolve(root, p.attributes))
        images = resolve(root, p.images)
        table = resolve(root, p.attributes)
        return self.split(
            root,
            classes,
            predicates,
            matrix,
            p.divide_by,
            images_of=lambda name, at: class_images(class_folder(images, name, at), name, at),
            listed_at=lambda label: f"{table} (row of '{classes[label]}')",
        )


@hookimpl
def zsk_register_components(register):
    register(Awa2)
    register(ImageFolder)
