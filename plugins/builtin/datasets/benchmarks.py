"""Built-in readers of the field's image benchmarks in their download layouts: CUB-200-2011 and
SUN Attribute (:mod:`zsk.core.data.benchmarks`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from zsk.core.components.zsl_data import ZslData
from zsk.core.data.benchmarks import existing, read_cub, read_sun
from zsk.core.data.readers import resolve
from zsk.plugins.builtin.datasets.image_split import ImageReader, ImageReaderParams
from zsk.registry import hookimpl


class _BenchmarkParams(ImageReaderParams):
    """What the benchmark readers share: unit-length rows and the proposed split's list names."""

    rows: Literal["none", "l2"] = Field(
        "l2",
        description="'l2': every class's attribute row at unit length, as the benchmark files "
        "hold them; 'none': as read",
    )
    seen_classes: str = Field(
        "trainvalclasses.txt",
        description="seen class list relative to root (the benchmark's proposed split ships one)",
    )
    unseen_classes: str = Field("testclasses.txt", description="unseen class list relative to root")


class _Benchmark(ImageReader):
    """A benchmark read from its download: its own tables give the classes, attributes and
    each class's images; the images' list file is named when one is missing."""

    #: The file listing every image, relative to root.
    image_list: ClassVar[str]
    #: What the attribute table is divided by (percentages: 100).
    divide_by: ClassVar[float]

    def read(self, root: Path) -> tuple[list[str], list[str], np.ndarray, dict[str, list[Path]]]:
        """(class names, predicate names, class × attribute table, each class's images)."""
        raise NotImplementedError

    def class_place(self, root: Path, classes: list[str], label: int) -> str:
        """Where the benchmark names class ``label``, for messages."""
        raise NotImplementedError

    def load(self) -> ZslData:
        root = self.root()
        classes, predicates, matrix, by_class = self.read(root)
        listed = str(root / self.image_list)
        return self.split(
            root,
            classes,
            predicates,
            matrix,
            self.divide_by,
            images_of=lambda name, at: existing(by_class[name], listed),
            listed_at=lambda label: self.class_place(root, classes, label),
        )


class Cub(_Benchmark):
    """CUB-200-2011 as downloaded: 200 bird species, 312 attributes (``CUB_200_2011/``)."""

    name = "cub"
    marker_files = ("classes.txt", "images.txt", "image_class_labels.txt")

    class Params(_BenchmarkParams):
        root: str = Field("data/CUB_200_2011", description="the CUB_200_2011 folder")
        images: str = Field("images", description="folder of class folders, relative to root")
        attribute_matrix: str = Field(
            "attributes/class_attribute_labels_continuous.txt",
            description="class attributes (percentages, divided by 100), relative to root",
        )
        attribute_names: str = Field(
            "attributes.txt",
            description="'ID NAME' per attribute, relative to root; when absent there, the "
            "archive's place beside root is tried, then the attributes are numbered",
        )

    image_list, divide_by = "images.txt", 100.0

    def read(self, root):
        p = self.params
        names = resolve(root, p.attribute_names)
        if not names.is_file() and (root.parent / names.name).is_file():
            names = root.parent / names.name
        return read_cub(
            root,
            resolve(root, p.images),
            resolve(root, p.attribute_matrix),
            names if names.is_file() else None,
        )

    def class_place(self, root, classes, label):
        return f"{root / 'classes.txt'}:{label + 1}"


class SunAttribute(_Benchmark):
    """The SUN Attribute database as downloaded: 717 scene classes, 102 attributes."""

    name = "sun_attribute"
    marker_files = ("images.mat", "attributeLabels_continuous.mat")

    class Params(_BenchmarkParams):
        root: str = Field("data/SUNAttributeDB", description="the SUNAttributeDB folder")
        images: str = Field(
            "images",
            description="the image folder of SUNAttributeDB_Images (holding a/abbey/...), "
            "relative to root",
        )

    image_list, divide_by = "images.mat", 1.0

    def read(self, root):
        return read_sun(root, resolve(root, self.params.images))

    def class_place(self, root, classes, label):
        return f"{root / self.image_list} (class '{classes[label]}')"


@hookimpl
def zsk_register_components(register):
    register(Cub)
    register(SunAttribute)
