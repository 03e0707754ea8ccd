"""Built-in readers of the field's image benchmarks in their download layouts: CUB-200-2011 and
SUN Attribute (:mod:`zsk.core.data.benchmarks`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from zsk.core.data.benchmarks import existing, read_cub, read_sun
from zsk.core.data.reader_split import XLSA17_FIELD, split_classes
from zsk.core.data.readers import require_folder, resolve
from zsk.core.data.split import scale_attributes
from zsk.core.data.types import ZslData
from zsk.core.interfaces import Dataset
from zsk.registry import hookimpl

_ROWS = Field(
    "l2",
    description="'l2': every class's attribute row at unit length, as the benchmark files hold "
    "them; 'none': as read",
)
_SEEN = Field(
    "trainvalclasses.txt",
    description="seen class list relative to root (the benchmark's proposed split ships one)",
)
_UNSEEN = Field("testclasses.txt", description="unseen class list relative to root")
_FRACTION = Field(
    0.2, ge=0, lt=1, description="share of each seen class's images held out as seen test set"
)
_SPLIT_SEED = Field(0, description="seed of the held-out choice")


class Cub(Dataset):
    """CUB-200-2011 as downloaded: 200 bird species, 312 attributes (``CUB_200_2011/``)."""

    name = "cub"
    marker_files = ("classes.txt", "images.txt", "image_class_labels.txt")

    class Params(Dataset.Params):
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
        rows: Literal["none", "l2"] = _ROWS
        seen_classes: str = _SEEN
        unseen_classes: str = _UNSEEN
        seen_test_fraction: float = _FRACTION
        split_seed: int = _SPLIT_SEED
        xlsa17: str | None = XLSA17_FIELD

    def load(self) -> ZslData:
        p = self.params
        root = Path(p.root).expanduser()
        require_folder(root)
        names = resolve(root, p.attribute_names)
        if not names.is_file() and (root.parent / names.name).is_file():
            names = root.parent / names.name
        classes, predicates, matrix, by_class = read_cub(
            root,
            resolve(root, p.images),
            resolve(root, p.attribute_matrix),
            names if names.is_file() else None,
        )
        listed = str(root / "images.txt")
        return split_classes(
            root=root,
            classes=classes,
            predicates=predicates,
            attributes=scale_attributes(matrix, 100.0, p.rows),
            images_of=lambda name, at: existing(by_class[name], listed),
            listed_at=lambda label: f"{root / 'classes.txt'}:{label + 1}",
            params=p,
        )


class SunAttribute(Dataset):
    """The SUN Attribute database as downloaded: 717 scene classes, 102 attributes."""

    name = "sun_attribute"
    marker_files = ("images.mat", "attributeLabels_continuous.mat")

    class Params(Dataset.Params):
        root: str = Field("data/SUNAttributeDB", description="the SUNAttributeDB folder")
        images: str = Field(
            "images",
            description="the image folder of SUNAttributeDB_Images (holding a/abbey/...), "
            "relative to root",
        )
        rows: Literal["none", "l2"] = _ROWS
        seen_classes: str = _SEEN
        unseen_classes: str = _UNSEEN
        seen_test_fraction: float = _FRACTION
        split_seed: int = _SPLIT_SEED
        xlsa17: str | None = XLSA17_FIELD

    def load(self) -> ZslData:
        p = self.params
        root = Path(p.root).expanduser()
        require_folder(root)
        classes, predicates, matrix, by_class = read_sun(root, resolve(root, p.images))
        listed = str(root / "images.mat")
        return split_classes(
            root=root,
            classes=classes,
            predicates=predicates,
            attributes=scale_attributes(matrix, 1.0, p.rows),
            images_of=lambda name, at: existing(by_class[name], listed),
            listed_at=lambda label: f"{listed} (class '{classes[label]}')",
            params=p,
        )


@hookimpl
def zsk_register_components(register):
    register(Cub)
    register(SunAttribute)
