"""The benchmark files' proposed split applied to a data set's own image files.

``res101.mat`` names the image behind every feature (``image_files``, paths on the machine that
made the files, e.g. ``/BS/.../JPEGImages/antelope/antelope_10001.jpg``) and ``att_splits.mat``
puts every feature in ``trainval_loc``, ``test_seen_loc`` or ``test_unseen_loc``. An image
reader given the folder of those two files (its ``xlsa17`` parameter) sorts its images the same
way, matching each by its last two path parts (class folder and file name), so image runs and
feature runs train and test on the same images. Class names must be the benchmark's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from zsk.core.components.zsl_data import Sample, ZslData
from zsk.core.data.xlsa17 import (
    PROPOSED,
    Xlsa17Files,
    proposed_split,
    read_files,
    validation_classes,
)
from zsk.registry import UserError


def image_key(path: str | Path) -> str:
    """The last two parts of a path (``class/file.jpg``), with either kind of separator."""
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])


def split_images(
    *,
    root: Path,
    classes: list[str],
    predicates: list[str],
    attributes: torch.Tensor,
    images: Callable[[], list[Sample]],
    xlsa17: Path,
) -> ZslData:
    """``images()`` (every image of the data set, any class) sorted into the proposed split of
    the benchmark files in the folder ``xlsa17`` (see module); listed once the class names are
    known to match."""
    features_file, splits_file = xlsa17 / "res101.mat", xlsa17 / "att_splits.mat"
    files = read_files(features_file, splits_file, features=False)
    if not files.image_files:
        raise UserError(
            "has no 'image_files' with one path per sample, which the split of an image folder "
            "needs",
            where=str(features_file),
            hint="use the benchmark download's res101.mat",
        )
    seen, unseen = proposed_split(files, splits_file)
    to_ours = _class_numbers(files, classes, root, splits_file)
    lists = _split_samples(files, classes, to_ours, images(), features_file, root)
    validation = validation_classes(files, splits_file)
    return ZslData(
        root=root,
        classes=classes,
        predicates=predicates,
        attributes=attributes,
        seen=sorted(to_ours[c] for c in seen),
        unseen=sorted(to_ours[c] for c in unseen),
        train=lists["trainval_loc"],
        test_seen=lists["test_seen_loc"],
        test_unseen=lists["test_unseen_loc"],
        validation_classes=sorted(to_ours[c] for c in validation[1]) if validation else None,
    )


def _class_numbers(
    files: Xlsa17Files, classes: list[str], root: Path, splits_file: Path
) -> list[int]:
    """The data set's number of each benchmark class (the benchmark's must all be there)."""
    missing = [name for name in files.classes if name not in classes]
    if missing:
        raise UserError(
            f"class '{missing[0]}' of the benchmark files is not a class of the data set at "
            f"{root}" + (f" ({len(missing)} such classes)" if len(missing) > 1 else ""),
            where=str(splits_file),
            hint="the data set's class names must be the benchmark's (allclasses_names)",
        )
    return [classes.index(name) for name in files.classes]


def _split_samples(
    files: Xlsa17Files,
    classes: list[str],
    to_ours: list[int],
    images: list[Sample],
    features_file: Path,
    root: Path,
) -> dict[str, list[Sample]]:
    """The data set's image of each sample of every proposed split, by split name; every one
    must be there, in its class's folder, and named by one sample only."""
    ours: dict[str, Sample] = {}
    for sample in images:
        ours.setdefault(image_key(sample.path), sample)
    lists: dict[str, list[Sample]] = {name: [] for name in PROPOSED}
    absent: list[str] = []
    used: dict[str, int] = {}
    for name in PROPOSED:
        for row in files.loc[name].tolist():
            key = image_key(files.image_files[row])
            if key in used:
                raise UserError(
                    f"samples {used[key] + 1} and {row + 1} name the same image file {key}",
                    where=str(features_file),
                    hint="these benchmark files describe image regions (as aPY's do), not whole "
                    "images, so their split cannot be applied to image files",
                )
            used[key] = row
            sample = ours.get(key)
            if sample is None:
                absent.append(key)
                continue
            label = to_ours[int(files.labels[row])]
            if sample.label != label:
                raise UserError(
                    f"{sample.path} is an image of '{classes[sample.label]}' here but of "
                    f"'{classes[label]}' in the benchmark files",
                    where=str(features_file),
                    hint="put the image in its class's folder",
                )
            lists[name].append(sample)
    if absent:
        raise UserError(
            f"{len(absent)} images of the benchmark's split are not in the data set at {root}, "
            f"e.g. {absent[0]}",
            where=str(features_file),
            hint="unpack the complete image download (class folder and file names unchanged)",
        )
    return lists
