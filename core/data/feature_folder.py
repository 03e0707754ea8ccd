"""zsk's own folder of pre-extracted features: what ``zsk data features`` writes and runs read.

A feature folder holds

- ``features.json``: ``{"format": "zsk-features", "version": 1, "count": N, "dim": D,
  "complete": true, "classes": [...], "predicates": [...], "attributes": [[...], ...] (one row
  per class), "seen": [names], "unseen": [names], "validation_classes": [names], "source":
  {...}}`` (``source`` says where the features came from; ``complete`` is false while an
  extraction is still under way);
- ``features.npy``: float32 (N, D), one feature per row, a plain NumPy file read memory-mapped
  and without pickle;
- ``samples.csv``: header ``split,class,file``, then one line per row of ``features.npy``: its
  split (``train``, ``test_seen`` or ``test_unseen``; ``skipped`` for an image that could not
  be decoded, whose row is in no split), class name and source image (relative to the source
  data set's folder).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from zsk.core.components.zsl_data import FeatureSample, ZslData
from zsk.registry import UserError

FORMAT = "zsk-features"
VERSION = 1
INDEX = "features.json"
ARRAY = "features.npy"
SAMPLES = "samples.csv"
SPLITS = ("train", "test_seen", "test_unseen")
#: the split of an image that could not be decoded: its row is kept (zeros) but in no split
SKIPPED = "skipped"


def samples_csv(rows: list[tuple[str, str, str]]) -> str:
    """The text of ``samples.csv`` for ``(split, class, file)`` rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", "class", "file"])
    writer.writerows(rows)
    return out.getvalue()


def index_json(data: ZslData, count: int, dim: int, source: dict, complete: bool) -> str:
    """The text of ``features.json`` for features of ``data``'s samples."""
    names = data.classes
    index = {
        "format": FORMAT,
        "version": VERSION,
        "count": count,
        "dim": dim,
        "complete": complete,
        "classes": names,
        "predicates": data.predicates,
        "attributes": data.attributes.tolist(),
        "seen": [names[c] for c in data.seen],
        "unseen": [names[c] for c in data.unseen],
        "validation_classes": [names[c] for c in data.validation_classes or []],
        "source": source,
    }
    return json.dumps(index, indent=1)


def read_index(root: Path) -> dict:
    path = root / INDEX
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("file not found", where=str(path), hint="not a feature folder") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"is not valid JSON ({exc})", where=str(path)) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise UserError(f"is not a '{FORMAT}' index", where=str(path))
    if index.get("version") != VERSION:
        raise UserError(
            f"has version {index.get('version')!r}; this zsk reads version {VERSION}",
            where=str(path),
            hint="write the folder again with this zsk's `zsk data features`",
        )
    return index


def _field(index: dict, key: str, kind: type, path: Path):
    value = index.get(key)
    if not isinstance(value, kind):
        raise UserError(f"'{key}' is missing or not a {kind.__name__}", where=str(path))
    return value


def _class_list(index: dict, key: str, classes: list[str], path: Path) -> list[int]:
    names = _field(index, key, list, path)
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise UserError(f"'{key}' names '{unknown[0]}', which 'classes' lacks", where=str(path))
    return sorted({classes.index(n) for n in names})


def read_feature_folder(root: Path) -> ZslData:
    """The feature folder ``root`` (see module) as a feature :class:`ZslData`, checked."""
    path = root / INDEX
    index = read_index(root)
    if not index.get("complete"):
        raise UserError(
            "the extraction that writes this folder has not finished",
            where=str(root),
            hint="run the same `zsk data features` command again: it continues where it stopped",
        )
    count, dim = _field(index, "count", int, path), _field(index, "dim", int, path)
    classes = [str(c) for c in _field(index, "classes", list, path)]
    predicates = [str(p) for p in _field(index, "predicates", list, path)]
    try:
        attributes = np.asarray(_field(index, "attributes", list, path), dtype=np.float32)
    except (ValueError, TypeError):
        raise UserError("'attributes' is not a matrix of numbers", where=str(path)) from None
    if attributes.shape != (len(classes), len(predicates)):
        raise UserError(
            f"'attributes' has shape {attributes.shape}; 'classes' and 'predicates' ask for "
            f"({len(classes)}, {len(predicates)})",
            where=str(path),
        )
    seen = _class_list(index, "seen", classes, path)
    unseen = _class_list(index, "unseen", classes, path)
    if set(seen) & set(unseen):
        shared = classes[min(set(seen) & set(unseen))]
        raise UserError(f"class '{shared}' is both seen and unseen", where=str(path))
    validation = (
        _class_list(index, "validation_classes", classes, path)
        if index.get("validation_classes")
        else None
    )
    if validation and not set(validation) < set(seen):
        raise UserError(
            "'validation_classes' must be some, not all, of the seen classes", where=str(path)
        )
    features = _read_array(root / ARRAY, count, dim)
    splits = _read_samples(root / SAMPLES, count, classes, set(seen), set(unseen))
    return ZslData(
        root=root,
        classes=classes,
        predicates=predicates,
        attributes=torch.from_numpy(attributes),
        seen=seen,
        unseen=unseen,
        train=splits["train"],
        test_seen=splits["test_seen"],
        test_unseen=splits["test_unseen"],
        features=torch.from_numpy(features),
        validation_classes=validation,
    )


def _read_array(path: Path, count: int, dim: int) -> np.ndarray:
    """``features.npy`` memory-mapped copy-on-write (writable for torch, never written back)."""
    try:
        array = np.load(path, mmap_mode="c", allow_pickle=False)
    except FileNotFoundError:
        raise UserError("file not found", where=str(path), hint="write the folder again") from None
    except (ValueError, OSError) as exc:
        raise UserError(f"is not a NumPy array file ({exc})", where=str(path)) from None
    if array.dtype != np.float32 or array.shape != (count, dim):
        raise UserError(
            f"holds {array.dtype} {array.shape}; features.json asks for float32 ({count}, {dim})",
            where=str(path),
            hint="write the folder again",
        )
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise UserError(
            f"{len(bad)} feature rows hold NaN or infinity, the first row {bad[0]} (line "
            f"{bad[0] + 2} of {SAMPLES})",
            where=str(path),
            hint="extract them again, or remove those images from the source data set",
        )
    return array


def _read_samples(
    path: Path, count: int, classes: list[str], seen: set[int], unseen: set[int]
) -> dict[str, list[FeatureSample]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError("file not found", where=str(path), hint="write the folder again") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
            where=str(path),
            hint="save it as UTF-8, or write the folder again",
        ) from None
    rows = list(csv.reader(lines))
    if not rows or rows[0] != ["split", "class", "file"]:
        raise UserError("the header must be 'split,class,file'", where=f"{path}:1")
    if len(rows) - 1 != count:
        raise UserError(
            f"lists {len(rows) - 1} samples; features.json says {count} features",
            where=str(path),
            hint="write the folder again",
        )
    position = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[FeatureSample]] = {name: [] for name in SPLITS}
    for row, fields in enumerate(rows[1:]):
        where = f"{path}:{row + 2}"
        if len(fields) == 3 and fields[0] == SKIPPED:
            continue
        if len(fields) != 3 or fields[0] not in splits or fields[1] not in position:
            raise UserError(
                f"expected 'SPLIT,CLASS,FILE' with SPLIT one of {', '.join(SPLITS)} and a class "
                f"of features.json, got {','.join(fields)!r}",
                where=where,
            )
        label = position[fields[1]]
        allowed = unseen if fields[0] == "test_unseen" else seen
        if label not in allowed:
            raise UserError(
                f"class '{fields[1]}' in split '{fields[0]}' is not "
                f"{'an unseen' if fields[0] == 'test_unseen' else 'a seen'} class",
                where=where,
            )
        splits[fields[0]].append(FeatureSample(row, label))
    return splits
