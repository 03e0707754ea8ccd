"""aPascal & aYahoo (aPY) as an image data set: every annotated object box cropped to an image.

aPY's samples are objects inside photos, several per photo, so no reader of whole image files
can hold them. ``zsk data apy SRC OUT`` reads the download's layout

- ``attribute_data/class_names.txt`` and ``attribute_names.txt`` (one name per line),
- ``attribute_data/apascal_train.txt``, ``apascal_test.txt`` (objects in
  ``VOCdevkit/VOC2008/JPEGImages/``) and ``ayahoo_test.txt`` (objects in
  ``ayahoo_test_images/``): one object per line, ``IMAGE CLASS X1 Y1 X2 Y2`` (pixel corners,
  one-based and inclusive) and one 0/1 value per attribute,

and writes OUT in the ``image_folder`` layout: ``images/CLASS/SOURCE-LINE.jpg`` per object,
``attributes.csv`` with each class's share of objects showing each attribute, ``seen.txt``
(the aPascal classes) and ``unseen.txt`` (the classes only aYahoo has), the data set's own
protocol (Farhadi et al. 2009).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zsk.core.data.images import open_rgb
from zsk.core.data.progress import progress_bar
from zsk.core.data.readers import text_lines
from zsk.core.storage.files import write_file, writing
from zsk.registry import UserError

SOURCES = (
    ("apascal_train", "VOCdevkit/VOC2008/JPEGImages"),
    ("apascal_test", "VOCdevkit/VOC2008/JPEGImages"),
    ("ayahoo_test", "ayahoo_test_images"),
)


@dataclass(frozen=True)
class ApyObject:
    source: str
    line: int
    image: Path
    label: int
    box: tuple[int, int, int, int]
    attributes: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.source}-{self.line:05d}.jpg"


def _names(path: Path, what: str) -> list[str]:
    names = [line for _, line in text_lines(path, what)]
    if len(set(names)) != len(names):
        raise UserError(f"{what} lists a name twice", where=str(path))
    return names


def read_objects(src: Path) -> tuple[list[str], list[str], list[ApyObject]]:
    """``(classes, attribute names, objects)`` of an aPY download folder (see module)."""
    data = src / "attribute_data"
    classes = _names(data / "class_names.txt", "class names")
    attributes = _names(data / "attribute_names.txt", "attribute names")
    objects = []
    for source, folder in SOURCES:
        path = data / f"{source}.txt"
        for number, line in text_lines(path, "object list"):
            where = f"{path}:{number}"
            fields = line.split()
            if len(fields) != 6 + len(attributes):
                raise UserError(
                    f"has {len(fields)} fields; expected IMAGE CLASS X1 Y1 X2 Y2 and "
                    f"{len(attributes)} attribute values (attribute_names.txt)",
                    where=where,
                )
            if fields[1] not in classes:
                raise UserError(f"class '{fields[1]}' is not in class_names.txt", where=where)
            try:
                box = tuple(int(v) for v in fields[2:6])
                values = np.array([float(v) for v in fields[6:]])
            except ValueError:
                raise UserError(
                    "box corners and attribute values must be numbers", where=where
                ) from None
            if not (1 <= box[0] <= box[2] and 1 <= box[1] <= box[3]):
                raise UserError(f"box {box} is empty or outside the image", where=where)
            image = src / folder / fields[0]
            label = classes.index(fields[1])
            objects.append(ApyObject(source, number, image, label, box, values))
    return classes, attributes, objects


def _class_table(classes: list[str], names: list[str], objects: list[ApyObject]) -> str:
    rows = {c: [] for c in range(len(classes))}
    for obj in objects:
        rows[obj.label].append(obj.attributes)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", *names])
    for c, name in enumerate(classes):
        if rows[c]:
            writer.writerow([name, *(f"{v:.6g}" for v in np.mean(rows[c], axis=0))])
    return out.getvalue()


def write_crops(src: Path, out: Path, *, progress: bool = False) -> tuple[int, int]:
    """Write OUT (see module); ``(objects, classes)``. A crop already in OUT is kept, so an
    interrupted conversion continues when run again."""
    classes, names, objects = read_objects(src)
    with progress_bar(len(objects), "cropping objects", progress) as advance:
        for obj in objects:
            target = out / "images" / classes[obj.label] / obj.name
            if not target.is_file():
                _crop(obj, target)
            advance()
    used = sorted({obj.label for obj in objects})
    pascal = {obj.label for obj in objects if obj.source.startswith("apascal")}
    write_file(out / "attributes.csv", _class_table(classes, names, objects))
    write_file(out / "seen.txt", "".join(f"{classes[c]}\n" for c in used if c in pascal))
    write_file(out / "unseen.txt", "".join(f"{classes[c]}\n" for c in used if c not in pascal))
    return len(objects), len(used)


def _crop(obj: ApyObject, target: Path) -> None:
    if not obj.image.is_file():
        raise UserError(
            f"image of object {obj.source}.txt:{obj.line} not found",
            where=str(obj.image),
            hint="unpack VOC2008 (VOCdevkit/VOC2008/JPEGImages) and ayahoo_test_images into "
            "the aPY folder",
        )
    image = open_rgb(obj.image)
    if image is None:
        raise UserError(
            f"cannot decode the image of object {obj.source}.txt:{obj.line}", where=str(obj.image)
        )
    x1, y1, x2, y2 = obj.box
    box = (x1 - 1, y1 - 1, min(x2, image.width), min(y2, image.height))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise UserError(
            f"box {obj.box} of object {obj.source}.txt:{obj.line} lies outside the "
            f"{image.width}×{image.height} image",
            where=str(obj.image),
        )
    with writing(target, durable=False) as partial:
        image.crop(box).save(partial, format="JPEG", quality=95)
