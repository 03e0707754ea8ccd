"""``zsk data features``: every image of a data set through an extractor into a feature folder.

The folder (:mod:`zsk.core.data.feature_folder`) is planned first: ``features.json`` with
``complete: false`` and the extractor's identity, ``samples.csv``, and a ``features.npy`` of
the final size. Batches are then written into the memory-mapped array in row order, and after
each one ``progress.json`` records how many rows are on disk (the array is flushed first, so
the record never runs ahead of the data). A run that is killed continues at the recorded row
when the same command is given again; a different extractor or a changed data set is refused
instead of mixing features. A caller that asks to stop (``should_stop``, read after each
batch's record) gets :class:`ExtractionStopped` the same way. The last step marks
``features.json`` complete.

Images that cannot be decoded keep a zero row and are marked ``skipped`` in ``samples.csv``,
so no split contains them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zsk.core.components.zsl_data import ZslData
from zsk.core.data.extractors import Extractor
from zsk.core.data.feature_folder import (
    ARRAY,
    INDEX,
    SAMPLES,
    SKIPPED,
    index_json,
    read_index,
    samples_csv,
)
from zsk.core.data.images import decode_into
from zsk.core.data.progress import progress_bar, report_skipped
from zsk.core.storage.files import make_folder, write_file, writing
from zsk.registry import UserError

PROGRESS = "progress.json"
OURS = (INDEX, ARRAY, SAMPLES, PROGRESS)


@dataclass(frozen=True)
class ExtractResult:
    out: Path
    count: int
    dim: int
    resumed_at: int
    skipped: list[Path]
    already_complete: bool = False


def plan_rows(data: ZslData) -> list[tuple[str, str, str]]:
    """``(split, class, file)`` of every image, train then test_seen then test_unseen."""
    rows = []
    for split in ("train", "test_seen", "test_unseen"):
        for sample in getattr(data, split):
            path = sample.path
            shown = path.relative_to(data.root) if path.is_relative_to(data.root) else path
            rows.append((split, data.classes[sample.label], shown.as_posix()))
    return rows


def _prepare_out(out: Path, source: dict, force: bool) -> int | None:
    """Rows already extracted for this same job (None: start afresh; -1: complete)."""
    if not out.exists() or not any(out.iterdir()):
        return None
    if not (out / INDEX).is_file():
        if not force:
            raise UserError(
                "folder is not empty and holds no feature extraction",
                where=str(out),
                hint="choose another --out folder",
            )
        return None
    index = read_index(out)
    if index.get("source") != source:
        if not force:
            raise UserError(
                "holds features of another extraction (another backbone, weights, run, image "
                "size or source data set)",
                where=str(out),
                hint="choose another --out folder, or add --force to replace them",
            )
        for name in OURS:
            (out / name).unlink(missing_ok=True)
        return None
    if index.get("complete"):
        return -1
    try:
        progress = json.loads((out / PROGRESS).read_text(encoding="utf-8"))
        array = np.load(out / ARRAY, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):  # killed before these were written: start the rows again
        return None
    if array.shape != (index["count"], index["dim"]):
        return None
    return int(progress["done"])


class ExtractionStopped(Exception):
    """The extraction into ``out`` stopped on request after ``done`` of ``count`` rows; the
    same call continues it."""

    def __init__(self, out: Path, done: int, count: int):
        self.out, self.done, self.count = out, done, count
        super().__init__(f"{done} of {count} features kept in {out}")


def extract(
    data: ZslData,
    out: Path,
    extractor: Extractor,
    *,
    source_format: str,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = False,
    force: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> ExtractResult:
    """Write the features of every image of ``data`` to the feature folder ``out`` (see module)."""
    if data.is_features:
        raise UserError(
            "the source is already a feature data set; zsk data features reads images",
            where=str(data.root),
        )
    rows = plan_rows(data)
    count, dim = len(rows), extractor.dim
    planned = samples_csv(rows)
    source = _source(data, planned, source_format, extractor)
    done = _prepare_out(out, source, force)
    if done == -1:
        return ExtractResult(out, count, dim, count, [], already_complete=True)
    done, skipped = _started(out, data, (count, dim), source, planned, done)
    resumed_at = done
    paths = [s.path for s in data.train + data.test_seen + data.test_unseen]
    size = extractor.image_size
    array = np.load(out / ARRAY, mmap_mode="r+", allow_pickle=False)
    scratch = np.zeros((batch_size, 3, size, size), dtype=np.uint8)
    with progress_bar(count, f"features {size}×{size}", progress) as advance:
        for _ in range(done):
            advance()
        for start in range(done, count, batch_size):
            stop = min(start + batch_size, count)
            failed = decode_into(paths[start:stop], size, scratch, workers=workers)
            features = extractor.features(torch.from_numpy(scratch[: stop - start])).numpy()
            _require_finite(features, paths, start, failed)
            features[failed] = 0.0
            array[start:stop] = features
            array.flush()
            skipped += [start + i for i in failed]
            write_file(out / PROGRESS, json.dumps({"done": stop, "skipped": skipped}))
            for _ in range(start, stop):
                advance()
            if stop < count and should_stop is not None and should_stop():
                raise ExtractionStopped(out, stop, count)
    del array
    dropped = set(skipped)
    marked = [(SKIPPED if i in dropped else r[0], r[1], r[2]) for i, r in enumerate(rows)]
    write_file(out / SAMPLES, samples_csv(marked))
    write_file(out / INDEX, index_json(data, count, dim, source, complete=True))
    (out / PROGRESS).unlink(missing_ok=True)
    report_skipped([paths[i] for i in skipped], count, "images")
    return ExtractResult(out, count, dim, resumed_at, [paths[i] for i in skipped])


def _source(data: ZslData, planned: str, source_format: str, extractor: Extractor) -> dict:
    """What the features are of: the data set, its planned rows and the extractor; a folder
    started from another source is not continued."""
    return {
        "data_set": str(Path(data.root).resolve()),
        "format": source_format,
        "samples_sha256": hashlib.sha256(planned.encode()).hexdigest(),
        **extractor.identity,
    }


def _started(
    out: Path,
    data: ZslData,
    shape: tuple[int, int],
    source: dict,
    planned: str,
    done: int | None,
) -> tuple[int, list[int]]:
    """The rows done and skipped so far: a new folder's files written with none done (an
    index marked incomplete, the planned samples, a zeroed array), or a resumed one's progress."""
    if done is not None:
        return done, json.loads((out / PROGRESS).read_text(encoding="utf-8"))["skipped"]
    count, dim = shape
    make_folder(out)
    write_file(out / INDEX, index_json(data, count, dim, source, complete=False))
    write_file(out / SAMPLES, planned)
    with writing(out / ARRAY) as partial:
        np.lib.format.open_memmap(partial, "w+", np.float32, (count, dim)).flush()
    write_file(out / PROGRESS, json.dumps({"done": 0, "skipped": []}))
    return 0, []


def _require_finite(features: np.ndarray, paths: list[Path], start: int, failed: list[int]):
    bad = [i for i in np.flatnonzero(~np.isfinite(features).all(axis=1)) if i not in failed]
    if bad:
        raise UserError(
            f"the extractor gave NaN or infinite features for {paths[start + bad[0]]}",
            hint="check the weights (a broken or mismatched file gives such values)",
        )
