"""The fast path: every image decoded and resized once, stored as uint8 in a memory-mappable file.

``zsk data prepare DIR --size S`` writes, under ``DIR/.zsk-prepared/``:

- ``images-S.npy``: a NumPy ``.npy`` array (N, 3, S, S) uint8 — plain bytes behind a header,
  read with ``allow_pickle=False`` and memory-mapped, so training reads batches at memory speed;
- ``images-S.json``: for each row the file's path relative to DIR, its class name, size and
  modification time, and which rows could not be decoded.

Rows are grouped by split (train, then test_seen, then test_unseen, as the reader's default
options split them), so a split read with those options is one contiguous, zero-copy slice.
A prepared file is used only while every file it describes is unchanged.

The array is written through a memory map, whose writes cannot report a full disk (the process
would die of SIGBUS): the whole file is allocated before the first image is decoded, so a full
disk is an error of ``zsk data prepare`` itself. A prepared pair that cannot be read (an index
that is not the model below, an array that is not plain uint8) is refused naming the file and
the fix: delete the folder, or prepare again.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError

from zsk.core.components.zsl_data import Sample, ZslData
from zsk.core.data.images import decode_into
from zsk.core.data.progress import progress_bar, report_skipped
from zsk.core.storage.files import write_file, writing
from zsk.registry import UserError

PREPARED_DIR = ".zsk-prepared"
FORMAT = "zsk-prepared"
VERSION = 1


class PreparedIndex(BaseModel):
    """``images-S.json``: what each row of the array holds."""

    model_config = ConfigDict(extra="forbid")

    format: str
    version: int
    size: int
    #: per row: path relative to the data root, class name, file size, modification time (ns)
    files: list[tuple[str, str, NonNegativeInt, int]]
    skipped: list[NonNegativeInt]


def prepared_files(root: Path, size: int) -> tuple[Path, Path]:
    folder = root / PREPARED_DIR
    return folder / f"images-{size}.npy", folder / f"images-{size}.json"


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@dataclass(frozen=True)
class PrepareResult:
    array: Path
    images: int
    skipped: list[Path]


def prepare(
    data: ZslData, size: int, *, workers: int | None = None, progress: bool = False
) -> PrepareResult:
    """Decode every image of ``data`` at ``size`` × ``size`` into the prepared file."""
    samples = data.train + data.test_seen + data.test_unseen
    array_path, index_path = prepared_files(data.root, size)
    paths = [s.path for s in samples]
    with writing(array_path) as partial:
        images = np.lib.format.open_memmap(
            partial, mode="w+", dtype=np.uint8, shape=(len(samples), 3, size, size)
        )
        _allocate(partial)
        with progress_bar(len(paths), f"preparing {size}×{size}", progress) as advance:
            failed = decode_into(paths, size, images, workers=workers, on_done=advance)
        images.flush()
        del images
    index = {
        "format": FORMAT,
        "version": VERSION,
        "size": size,
        "files": [
            [str(s.path.relative_to(data.root)), data.classes[s.label], *_stamp(s.path)]
            for s in samples
        ],
        "skipped": failed,
    }
    write_file(index_path, json.dumps(index))
    skipped = [paths[i] for i in failed]
    report_skipped(skipped, len(paths), "images")
    return PrepareResult(array_path, len(samples) - len(failed), skipped)


def _allocate(path: Path) -> None:
    """Give ``path`` (a sparse file) every block it will need now, so the memory map that fills
    it never meets a full disk; where the file system cannot allocate ahead, check free space."""
    size = path.stat().st_size
    with open(path, "rb+") as handle:
        try:
            os.posix_fallocate(handle.fileno(), 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    if shutil.disk_usage(path.parent).free < size:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class Prepared:
    """An opened prepared file: the memory-mapped array and its row per relative path."""

    def __init__(self, root: Path, array: np.ndarray, index: PreparedIndex):
        self.root = root
        self.array = array
        self.files = index.files
        self.skipped = set(index.skipped)
        self.row_of = {entry[0]: row for row, entry in enumerate(self.files)}

    def rows_for(self, samples: list[Sample], classes: list[str]) -> np.ndarray | None:
        """Row per sample (-1 where the image was undecodable), or None when the file does not
        describe these samples as they are now (a file missing, changed, or of another class)."""
        rows = np.empty(len(samples), dtype=np.int64)
        for i, sample in enumerate(samples):
            try:
                relative = str(sample.path.relative_to(self.root))
            except ValueError:
                return None
            row = self.row_of.get(relative)
            if row is None:
                return None
            _, class_name, size, mtime = self.files[row]
            if class_name != classes[sample.label] or _stamp(sample.path) != (size, mtime):
                return None
            rows[i] = -1 if row in self.skipped else row
        return rows


#: Opened prepared files by path and both files' sizes and mtimes: one mapping per version.
_opened: dict[tuple, Prepared | None] = {}


def open_prepared(root: Path, size: int) -> Prepared | None:
    """The prepared file of ``root`` at ``size``, memory-mapped, or None when there is none.

    A file is mapped once per process (and again after ``zsk data prepare`` rewrites it), so
    every split read from it shares one mapping.
    """
    array_path, index_path = prepared_files(root, size)
    if not (array_path.is_file() and index_path.is_file()):
        return None
    key = (str(array_path.resolve()), *_stamp(array_path), *_stamp(index_path))
    if key not in _opened:
        _opened[key] = _open(root, array_path, index_path, size)
    return _opened[key]


def _open(root: Path, array_path: Path, index_path: Path, size: int) -> Prepared | None:
    try:
        index = PreparedIndex.model_validate_json(index_path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise _damaged(index_path, size, exc) from None
    if index.format != FORMAT or index.version != VERSION:
        return None
    try:  # copy-on-write: a writable mapping (torch warns on read-only ones) never written back
        array = np.load(array_path, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _damaged(array_path, size, exc) from None
    if array.shape != (len(index.files), 3, size, size) or array.dtype != np.uint8:
        return None
    return Prepared(root, array, index)


def _damaged(path: Path, size: int, exc: Exception) -> UserError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UserError(
        f"the prepared images {path} are damaged: {reason[:300]}",
        hint=f"delete {path.parent} (training reads the images themselves), or prepare them "
        f"again: zsk data prepare {path.parent.parent} --size {size}",
    )
