"""The raw downloads of the field's image benchmarks, in their own layouts.

**CUB-200-2011** (``CUB_200_2011/``): ``classes.txt`` (``ID NAME``, e.g. ``1
001.Black_footed_Albatross``), ``images.txt`` (``ID PATH`` relative to ``images/``),
``image_class_labels.txt`` (``IMAGE_ID CLASS_ID``),
``attributes/class_attribute_labels_continuous.txt`` (one row of 312 percentages per class) and
``attributes.txt`` (``ID NAME``, e.g. ``1 has_bill_shape::curved_(up_or_down)``; the archive
puts it beside the ``CUB_200_2011`` folder).

**SUN Attribute** (``SUNAttributeDB/``): ``images.mat`` (``images``: cell array of paths such as
``a/abbey/sun_aaaxxx.jpg``, relative to the image folder of ``SUNAttributeDB_Images``),
``attributes.mat`` (``attributes``: the 102 names) and ``attributeLabels_continuous.mat``
(``labels_cv``: images × 102, the share of three annotators who saw each attribute). An image's
class is its path without the first letter folder and the file name, parts joined by ``_``
(``a/apartment_building/outdoor/...`` is ``apartment_building_outdoor``), as the benchmark's
class names are; a class's attributes are the mean over its images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zsk.core.data.matfile import load_mat
from zsk.core.data.readers import read_index, read_matrix, text_lines
from zsk.registry import UserError


def _pairs(path: Path, what: str) -> list[tuple[int, int, int]]:
    """``(line, first, second)`` of a file of two whole numbers per line."""
    pairs = []
    for number, line in text_lines(path, what):
        fields = line.split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise UserError(f"expected 'ID ID', got {line!r}", where=f"{path}:{number}")
        pairs.append((number, int(fields[0]), int(fields[1])))
    return pairs


def read_cub(
    root: Path, images: Path, attribute_matrix: Path, attribute_names: Path | None
) -> tuple[list[str], list[str], np.ndarray, dict[str, list[Path]]]:
    """``(classes, predicates, matrix (0–100), image files by class)`` of a CUB folder."""
    classes_file = root / "classes.txt"
    classes = read_index(classes_file, "class index")
    files = read_index(root / "images.txt", "image list")
    labels_file = root / "image_class_labels.txt"
    label_of: dict[int, int] = {}
    for number, image, cls in _pairs(labels_file, "image class labels"):
        where = f"{labels_file}:{number}"
        if not 1 <= image <= len(files):
            raise UserError(f"image {image} is not in images.txt (1..{len(files)})", where=where)
        if not 1 <= cls <= len(classes):
            raise UserError(f"class {cls} is not in classes.txt (1..{len(classes)})", where=where)
        if image in label_of:
            raise UserError(f"image {image} is labelled twice", where=where)
        label_of[image] = cls - 1
    unlabelled = [i for i in range(1, len(files) + 1) if i not in label_of]
    if unlabelled:
        raise UserError(
            f"{len(unlabelled)} images of images.txt have no class, e.g. image {unlabelled[0]}",
            where=str(labels_file),
        )
    by_class: dict[str, list[Path]] = {name: [] for name in classes}
    for image, name in enumerate(files, 1):
        by_class[classes[label_of[image]]].append(images / name)
    if attribute_names is not None:
        predicates = read_index(attribute_names, "attribute names")
    else:
        first = text_lines(attribute_matrix, "attribute matrix")[0][1]
        predicates = [f"a{i + 1}" for i in range(len(first.split()))]
    matrix = read_matrix(
        attribute_matrix,
        len(classes),
        len(predicates),
        rows_from=str(classes_file),
        cols_from=str(attribute_names) if attribute_names else "its first row",
    )
    return classes, predicates, matrix, by_class


def sun_class(image: str) -> str:
    """The class of a SUN image path (see module)."""
    parts = image.replace("\\", "/").split("/")
    return "_".join(parts[1:-1]) if len(parts) > 2 else parts[0]


def read_sun(
    root: Path, images: Path
) -> tuple[list[str], list[str], np.ndarray, dict[str, list[Path]]]:
    """``(classes, predicates, class matrix (0–1), image files by class)`` of SUNAttributeDB."""
    names_file = root / "images.mat"
    paths = load_mat(names_file, ("images",)).get("images")
    attributes_file = root / "attributes.mat"
    predicates = load_mat(attributes_file, ("attributes",)).get("attributes")
    labels_file = root / "attributeLabels_continuous.mat"
    labels = load_mat(labels_file, ("labels_cv",)).get("labels_cv")
    for value, path, name in (
        (paths, names_file, "images"),
        (predicates, attributes_file, "attributes"),
    ):
        if not isinstance(value, list) or not value:
            raise UserError(f"has no cell array of text '{name}'", where=str(path))
    if not isinstance(labels, np.ndarray) or labels.shape != (len(paths), len(predicates)):
        shape = labels.shape if isinstance(labels, np.ndarray) else "none"
        raise UserError(
            f"'labels_cv' has shape {shape}; images.mat and attributes.mat ask for "
            f"({len(paths)}, {len(predicates)})",
            where=str(labels_file),
        )
    if not np.isfinite(labels).all():
        raise UserError("'labels_cv' holds a non-finite value", where=str(labels_file))
    classes: list[str] = []
    rows: dict[str, list[int]] = {}
    by_class: dict[str, list[Path]] = {}
    for row, image in enumerate(paths):
        name = sun_class(image)
        if name not in rows:
            classes.append(name)
            rows[name], by_class[name] = [], []
        rows[name].append(row)
        by_class[name].append(images / image)
    matrix = np.stack([labels[rows[name]].astype(np.float64).mean(axis=0) for name in classes])
    return classes, predicates, matrix, by_class


def existing(paths: list[Path], listed_in: str) -> list[Path]:
    """``paths``, every one of which must be a file (the layout lists each image)."""
    for path in paths:
        if not path.is_file():
            raise UserError(
                f"image listed in {listed_in} not found",
                where=str(path),
                hint="unpack the complete image download, or point the images parameter at it",
            )
    return paths
