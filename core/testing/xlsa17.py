"""Tiny benchmark files in the exact xlsa17 format, for tests of feature readers and components.

:func:`write_xlsa17` writes ``res101.mat`` and ``att_splits.mat`` as the benchmark download holds
them (MATLAB v5, D×N features, one-based indices, cell arrays of names), with features that
depend on the class attributes, so a feature model can learn something from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TinyXlsa17:
    """What :func:`write_xlsa17` wrote; indices are zero-based class numbers."""

    root: Path
    classes: list[str]
    seen: list[int]
    unseen: list[int]
    validation: list[int]
    features: np.ndarray  # (D, N), as stored
    labels: np.ndarray  # (N,) one-based, as stored
    variables: dict  # att_splits.mat's variables as written


def image_name(class_name: str, sample: int) -> str:
    """The class folder and file name of zero-based ``sample``'s image (``NAME/0007.jpg``)."""
    return f"{class_name}/{sample:04d}.jpg"


def mat_cells(texts: list[str]) -> np.ndarray:
    """A C×1 MATLAB cell array of strings, as ``scipy.io.savemat`` writes one."""
    cells = np.empty((len(texts), 1), dtype=object)
    for i, text in enumerate(texts):
        cells[i, 0] = np.array([text])
    return cells


def write_xlsa17(
    root: Path,
    *,
    classes: int = 6,
    unseen: int = 2,
    validation: int = 1,
    per_class: int = 6,
    test_seen_per_class: int = 2,
    attributes: int = 4,
    dim: int = 5,
    seed: int = 0,
    names: list[str] | None = None,
    features_override: np.ndarray | None = None,
    attributes_override: np.ndarray | None = None,
    splits_override: dict | None = None,
) -> TinyXlsa17:
    """Write a benchmark folder: the last ``unseen`` classes unseen, the ``validation`` seen
    classes before them val_loc's classes, every class with ``per_class`` samples.

    Sample ``i`` of class ``NAME`` has the image file ``.../images/NAME/{i:04d}.jpg``
    (:func:`image_name`); ``names`` default to ``class01``, ``class02``, ...
    ``features_override`` (D×N, samples in class order) and ``attributes_override`` (A×C)
    replace the drawn features and attributes, e.g. by a synthetic set's."""
    import scipy.io

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = names or [f"class{c + 1:02d}" for c in range(classes)]
    att = rng.random((attributes, classes))
    att /= np.linalg.norm(att, axis=0, keepdims=True)
    if attributes_override is not None:
        att = attributes_override
    labels = np.repeat(np.arange(1, classes + 1), per_class).astype(np.float64)
    projection = rng.normal(size=(dim, attributes))
    features = np.maximum(projection @ att[:, labels.astype(int) - 1], 0)
    features += 0.05 * rng.random(features.shape)
    if features_override is not None:
        features = features_override
    seen = list(range(classes - unseen))
    val_classes = seen[len(seen) - validation :]
    image_files = [
        f"/BS/xian/work/data/tiny/images/{image_name(names[int(lab) - 1], i)}"
        for i, lab in enumerate(labels)
    ]
    scipy.io.savemat(
        str(root / "res101.mat"),
        {
            "features": features,
            "labels": labels.reshape(-1, 1),
            "image_files": mat_cells(image_files),
        },
    )
    rows = _split_rows(labels, seen, val_classes, test_seen_per_class)
    variables = _att_splits(att, names, rows) | (splits_override or {})
    scipy.io.savemat(
        str(root / "att_splits.mat"), {k: v for k, v in variables.items() if v is not None}
    )
    return TinyXlsa17(
        root, names, seen, list(range(len(seen), classes)), val_classes, features, labels, variables
    )


def _split_rows(
    labels: np.ndarray, seen: list[int], val_classes: list[int], test_seen_per_class: int
) -> dict[str, list[int]]:
    """Each split's one-based sample numbers: every sample of an unseen class in
    ``test_unseen_loc``; a seen class's first ``test_seen_per_class`` in ``test_seen_loc``,
    the rest in ``trainval_loc`` and in ``val_loc`` (validation classes) or ``train_loc``."""
    rows: dict[str, list[int]] = {
        name: [] for name in ("trainval", "test_seen", "test_unseen", "train", "val")
    }
    for c in range(int(labels.max())):
        numbers = [i + 1 for i in range(len(labels)) if labels[i] == c + 1]
        if c not in seen:
            rows["test_unseen"] += numbers
            continue
        rows["test_seen"] += numbers[:test_seen_per_class]
        kept = numbers[test_seen_per_class:]
        rows["trainval"] += kept
        rows["val" if c in val_classes else "train"] += kept
    return rows


def _att_splits(att: np.ndarray, names: list[str], rows: dict[str, list[int]]) -> dict:
    """``att_splits.mat``'s variables as the download stores them (``trainval_loc`` as uint16,
    the other indices as doubles, ``original_att`` in percent)."""
    variables = {
        "att": att,
        "original_att": att * 100,
        "allclasses_names": mat_cells(names),
    }
    for name, numbers in rows.items():
        dtype = np.uint16 if name == "trainval" else np.float64
        variables[f"{name}_loc"] = np.array(numbers, dtype=dtype).reshape(-1, 1)
    return variables


def write_mat73(path: Path, variables: dict) -> None:
    """Write ``variables`` as MATLAB v7.3 does (HDF5 behind a 512-byte MATLAB header, arrays
    transposed, cell arrays of text as references to char arrays); needs h5py."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as mat:
        refs = mat.create_group("#refs#")
        for name, value in variables.items():
            if value.dtype == object:
                cells = []
                for i, cell in enumerate(value.ravel(order="F")):
                    text = str(np.asarray(cell).ravel()[0])
                    codes = np.array([[ord(ch)] for ch in text], dtype=np.uint16)
                    char = refs.create_dataset(f"{name}_{i}", data=codes)
                    char.attrs["MATLAB_class"] = np.bytes_("char")
                    cells.append(char.ref)
                data = np.array(cells, dtype=h5py.ref_dtype).reshape(value.shape).T
                mat.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                data = np.asarray(value).T
                mat.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5"
    with open(path, "r+b") as handle:
        handle.write(header.ljust(512, b" "))
