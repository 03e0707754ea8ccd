"""The field's benchmark files ("xlsa17", Xian et al. TPAMI 2018) as a feature :class:`ZslData`.

Per data set (AwA1, AwA2, CUB, SUN, aPY, FLO) a folder holds

- ``res101.mat``: ``features`` (D×N, one ResNet-101 feature per column), ``labels`` (N×1,
  one-based class numbers) and ``image_files`` (N×1 cell array of the images' paths);
- ``att_splits.mat``: ``att`` (A×C class attributes, each column of unit L2 length),
  ``allclasses_names`` (C×1 cell array), and one-based sample indices into the N features:
  ``trainval_loc``, ``test_seen_loc``, ``test_unseen_loc`` (the *proposed split*) and
  ``train_loc``, ``val_loc`` (a split of the seen classes into train and validation classes,
  for choosing settings).

Every index, shape and split is checked before anything is trained on, and each fault is a
:class:`~zsk.registry.UserError` naming the file and variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zsk.core.components.zsl_data import FeatureSample, ZslData
from zsk.core.data.matfile import load_mat
from zsk.core.data.split import held_out
from zsk.registry import UserError

PROPOSED = ("trainval_loc", "test_seen_loc", "test_unseen_loc")
VALIDATION = ("train_loc", "val_loc")
_FIX = "use the original file from the benchmark download"


def _damaged(path: Path, message: str, fix: str = "") -> UserError:
    """A problem in the benchmark file ``path``, which the original download does not have;
    ``fix`` adds what the file must satisfy."""
    return UserError(message, where=str(path), hint=f"{_FIX}; {fix}" if fix else _FIX)


@dataclass(frozen=True)
class Xlsa17Files:
    """The checked contents of one benchmark folder, all indices zero-based."""

    features: np.ndarray | None  # (N, D) float32; None when not read
    labels: np.ndarray  # (N,) class index
    classes: list[str]
    attributes: np.ndarray  # (C, A): one row per class
    loc: dict[str, np.ndarray]  # split name -> sample indices
    image_files: list[str]


def read_files(features_file: Path, splits_file: Path, *, features: bool = True) -> Xlsa17Files:
    """Read and check ``res101.mat`` and ``att_splits.mat`` (see module); ``features=False``
    leaves the feature matrix unread (for the split of an image folder: labels and files)."""
    wanted = ("features", "labels", "image_files") if features else ("labels", "image_files")
    res = load_mat(features_file, wanted)
    att = load_mat(splits_file, ("att", "allclasses_names", *PROPOSED, *VALIDATION))
    for name in wanted[:-1]:
        _require(res, name, features_file)
    for name in ("att", "allclasses_names", *PROPOSED):
        _require(att, name, splits_file)
    labels = _indices(res["labels"], features_file, "labels")
    matrix = _feature_matrix(res["features"], labels, features_file) if features else None
    count = len(labels)
    attributes = _matrix(att["att"], splits_file, "att")
    names = att["allclasses_names"]
    if not isinstance(names, list):
        raise UserError("'allclasses_names' is not a cell array of text", where=str(splits_file))
    num_classes = attributes.shape[1]
    if len(names) != num_classes:
        raise _damaged(
            splits_file,
            f"'allclasses_names' lists {len(names)} classes but 'att' has {num_classes} columns "
            "(one per class)",
        )
    _unique_names(names, splits_file)
    _in_range(labels, num_classes, features_file, "labels", "classes ('att' columns)")
    loc = {}
    for name in (*PROPOSED, *VALIDATION):
        if name in att:
            loc[name] = _indices(att[name], splits_file, name) - 1
            _in_range(loc[name] + 1, count, splits_file, name, f"samples ({features_file.name})")
            _no_repeats(loc[name], splits_file, name)
    image_files = res.get("image_files")
    files = image_files if isinstance(image_files, list) and len(image_files) == count else []
    return Xlsa17Files(
        features=matrix,
        labels=labels - 1,
        classes=[n.strip() for n in names],
        attributes=np.ascontiguousarray(attributes.T, dtype=np.float64),
        loc=loc,
        image_files=files,
    )


def _feature_matrix(value, labels: np.ndarray, path: Path) -> np.ndarray:
    """``features`` (D×N) as float32 rows (N, D), checked against the labels and for values
    that are not finite (NaN, infinity, or too large for float32)."""
    features = _matrix(value, path, "features")
    count = features.shape[1]
    if len(labels) != count:
        transposed = " — is features stored N×D instead of D×N?"
        raise _damaged(
            path,
            f"'labels' has {len(labels)} entries but 'features' has {count} columns (one per "
            f"sample){transposed if features.shape[0] == len(labels) else ''}",
        )
    with np.errstate(over="ignore", invalid="ignore"):
        rows = np.ascontiguousarray(features.T, dtype=np.float32)
    bad = np.argwhere(~np.isfinite(rows))
    if len(bad):
        sample, dimension = bad[0]
        raise UserError(
            f"'features' holds {len(bad)} non-finite values (NaN, infinity or beyond float32), "
            f"the first in sample {sample + 1}, dimension {dimension + 1}",
            where=str(path),
            hint="extract the features again, or remove those samples",
        )
    return rows


def _require(variables: dict, name: str, path: Path) -> None:
    if name not in variables:
        raise _damaged(path, f"has no variable '{name}'")


def _matrix(value, path: Path, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.dtype.kind not in "fiu":
        raise _damaged(path, f"'{name}' is not a numeric matrix")
    if name == "att" and not np.isfinite(value).all():
        raise _damaged(path, "'att' holds a non-finite value")
    return value


def _indices(value, path: Path, name: str) -> np.ndarray:
    """A vector of whole numbers (MATLAB stores them as doubles) as int64."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu" or value.size == 0:
        raise _damaged(path, f"'{name}' is not a non-empty numeric vector")
    if value.ndim != 2 or min(value.shape) != 1:
        raise _damaged(path, f"'{name}' has shape {value.shape}; expected a vector (N×1)")
    flat = value.ravel()
    whole = np.isfinite(flat) & (np.round(flat) == flat)
    if not whole.all():
        at = int(np.argmin(whole))
        raise _damaged(path, f"'{name}' entry {at + 1} is {flat[at]}, not a whole number")
    return flat.astype(np.int64)


def _in_range(values: np.ndarray, upper: int, path: Path, name: str, of: str) -> None:
    bad = np.flatnonzero((values < 1) | (values > upper))
    if len(bad):
        raise _damaged(
            path,
            f"'{name}' entry {bad[0] + 1} is {values[bad[0]]}, outside 1..{upper} (the one-based "
            f"numbers of the {upper} {of}); {len(bad)} entries are out of range",
            "the indices are one-based (MATLAB)",
        )


def _no_repeats(indices: np.ndarray, path: Path, name: str) -> None:
    values, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise _damaged(path, f"'{name}' lists sample {values[counts > 1][0] + 1} more than once")


def _unique_names(names: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if not name.strip():
            raise UserError(f"class {number} of 'allclasses_names' has no name", where=str(path))
        if name.strip() in seen:
            raise _damaged(
                path,
                f"class {number} of 'allclasses_names' ('{name.strip()}') repeats class "
                f"{seen[name.strip()]}",
            )
        seen[name.strip()] = number


def _disjoint_samples(files: Xlsa17Files, names: tuple[str, ...], path: Path) -> None:
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = np.intersect1d(files.loc[first], files.loc[second])
            if len(shared):
                raise _damaged(
                    path,
                    f"sample {shared[0] + 1} is in both '{first}' and '{second}' "
                    f"({len(shared)} shared)",
                    "a sample belongs to one split",
                )


def _classes_of(files: Xlsa17Files, name: str) -> list[int]:
    return sorted(set(files.labels[files.loc[name]].tolist()))


def _disjoint_classes(files: Xlsa17Files, first: str, second: str, path: Path) -> None:
    shared = sorted(set(_classes_of(files, first)) & set(_classes_of(files, second)))
    if shared:
        names = ", ".join(f"'{files.classes[c]}'" for c in shared[:3])
        raise _damaged(
            path,
            f"class {names} has samples in both '{first}' and '{second}'"
            + (f" ({len(shared)} classes shared)" if len(shared) > 1 else ""),
            "zero-shot splits keep unseen classes out of training",
        )


def proposed_split(files: Xlsa17Files, path: Path) -> tuple[list[int], list[int]]:
    """Seen and unseen classes of the proposed split (checked: disjoint, seen test ⊆ seen)."""
    _disjoint_samples(files, PROPOSED, path)
    _disjoint_classes(files, "trainval_loc", "test_unseen_loc", path)
    seen = _classes_of(files, "trainval_loc")
    stray = sorted(set(_classes_of(files, "test_seen_loc")) - set(seen))
    if stray:
        raise _damaged(
            path,
            f"'test_seen_loc' holds samples of '{files.classes[stray[0]]}', a class with no "
            "sample in 'trainval_loc'",
        )
    return seen, _classes_of(files, "test_unseen_loc")


def validation_classes(files: Xlsa17Files, path: Path) -> tuple[list[int], list[int]] | None:
    """Train and validation classes of ``train_loc``/``val_loc`` (checked), None if absent."""
    if not all(name in files.loc for name in VALIDATION):
        return None
    _disjoint_samples(files, VALIDATION, path)
    _disjoint_classes(files, "train_loc", "val_loc", path)
    train, val = _classes_of(files, "train_loc"), _classes_of(files, "val_loc")
    outside = (set(train) | set(val)) - set(_classes_of(files, "trainval_loc"))
    if outside:
        raise _damaged(
            path,
            f"'train_loc' or 'val_loc' holds samples of '{files.classes[min(outside)]}', a class "
            "with no sample in 'trainval_loc' (train and validation classes split the seen "
            "classes)",
        )
    return train, val


def to_zsl_data(
    root: Path,
    files: Xlsa17Files,
    splits_file: Path,
    split: str,
    seen_test_fraction: float,
    split_seed: int,
) -> ZslData:
    """The proposed split (``split='proposed'``) or the validation split (``'validation'``).

    The validation split trains on ``train_loc``'s classes and treats ``val_loc``'s as unseen;
    the benchmark has no seen test samples for it, so ``seen_test_fraction`` of each train
    class's samples is held out (deterministically, by ``split_seed``) as the seen test set.
    The proposed split records ``val_loc``'s classes as the data set's validation classes, which
    a validation run (spec section ``holdout``) holds out by default.
    """
    seen, unseen = proposed_split(files, splits_file)
    validation = validation_classes(files, splits_file)
    labels = files.labels
    rows = {name: files.loc[name].tolist() for name in files.loc}
    if split == "proposed":
        train, test_seen, test_unseen = (rows[name] for name in PROPOSED)
    else:
        if validation is None:
            raise UserError(
                "has no 'train_loc' and 'val_loc', which the validation split reads",
                where=str(splits_file),
                hint="use split: proposed, or the benchmark's own att_splits.mat",
            )
        seen, unseen = validation
        by_class: dict[int, list[int]] = {}
        for row in rows["train_loc"]:
            by_class.setdefault(int(labels[row]), []).append(row)
        test_seen = []
        for cls, members in sorted(by_class.items()):
            test_seen += sorted(
                held_out(members, seen_test_fraction, split_seed, files.classes[cls])
            )
        chosen = set(test_seen)
        train = [row for row in rows["train_loc"] if row not in chosen]
        test_unseen = rows["val_loc"]
    num_attributes = files.attributes.shape[1]
    return ZslData(
        root=root,
        classes=files.classes,
        predicates=[f"a{i + 1}" for i in range(num_attributes)],
        attributes=torch.from_numpy(files.attributes.astype(np.float32)),
        seen=seen,
        unseen=unseen,
        train=[FeatureSample(r, int(labels[r])) for r in train],
        test_seen=[FeatureSample(r, int(labels[r])) for r in test_seen],
        test_unseen=[FeatureSample(r, int(labels[r])) for r in test_unseen],
        features=torch.from_numpy(files.features),
        validation_classes=validation[1] if split == "proposed" and validation else None,
    )
