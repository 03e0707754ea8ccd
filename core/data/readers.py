"""Parsing the plain-text files of a zero-shot data set, with ``file:line`` in every error.

The AwA2 download's files: ``classes.txt`` and ``predicates.txt`` (``INDEX<TAB>NAME``, indices
1..n), ``predicate-matrix-continuous.txt`` / ``predicate-matrix-binary.txt`` (one row of
whitespace-separated numbers per class), class lists such as ``trainclasses.txt`` (one name per
line) and ``JPEGImages/<class>/*.jpg``. A user's own data set adds a CSV of class attributes.
"""

from __future__ import annotations

import csv
import difflib
import math
from pathlib import Path

import numpy as np

from zsk.core.data.images import is_image_file
from zsk.registry import UserError


def require_folder(root: Path) -> None:
    """A data set's root must exist; say how to make one when it does not."""
    if not root.is_dir():
        raise UserError(
            f"data set folder '{root}' does not exist",
            hint=f"write the built-in synthetic set there with `zsk data synth {root}`, or point "
            "data.params.root at your data (docs/own-data.md)",
        )


def text_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """Non-blank lines of ``path`` with their 1-based numbers."""
    if not path.is_file():
        raise UserError(f"{what} not found", where=str(path), hint="check the data set's root")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} is not UTF-8 text ({exc.reason})", where=str(path)) from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_index(path: Path, what: str = "index file") -> list[str]:
    """Names from an ``INDEX<TAB>NAME`` file whose indices run 1, 2, 3, ... in order."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, line in text_lines(path, what):
        where = f"{path}:{number}"
        parts = line.split(None, 1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise UserError(f"expected 'INDEX<TAB>NAME', got {line!r}", where=where)
        index, name = int(parts[0]), parts[1].strip()
        if index != len(names) + 1:
            raise UserError(f"index {index} out of order; expected {len(names) + 1}", where=where)
        if name in seen:
            raise UserError(f"'{name}' is listed twice (also on line {seen[name]})", where=where)
        seen[name] = number
        names.append(name)
    if not names:
        raise UserError(f"{what} lists nothing", where=str(path))
    return names


def read_matrix(path: Path, rows: int, cols: int, *, rows_from: str, cols_from: str) -> np.ndarray:
    """A whitespace-separated numeric matrix that must be ``rows`` × ``cols``."""
    lines = text_lines(path, "attribute matrix")
    values: list[list[float]] = []
    for number, line in lines:
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) != cols:
            raise UserError(
                f"row has {len(fields)} values; {cols_from} lists {cols}",
                where=where,
                hint="every row needs one value per predicate",
            )
        try:
            values.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise UserError(f"{bad!r} is not a number", where=where) from None
    if len(values) != rows:
        raise UserError(
            f"has {len(values)} rows; {rows_from} lists {rows} classes",
            where=str(path),
            hint="the matrix needs one row per class, in the class index's order",
        )
    matrix = np.asarray(values, dtype=np.float64)
    if not np.isfinite(matrix).all():
        row = int(np.argwhere(~np.isfinite(matrix))[0][0])
        raise UserError("contains a non-finite value", where=f"{path}:{lines[row][0]}")
    return matrix


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_class_list(path: Path, known: list[str]) -> dict[str, int]:
    """Class names, one per line, each one of ``known``: name -> line number."""
    listed: dict[str, int] = {}
    for number, name in text_lines(path, "class list"):
        where = f"{path}:{number}"
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            guess = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(f"unknown class '{name}'.{guess}", where=where)
        if name in listed:
            raise UserError(f"'{name}' is listed twice (also on line {listed[name]})", where=where)
        listed[name] = number
    if not listed:
        raise UserError("class list is empty", where=str(path))
    return listed


def _csv_row(line: str, delimiter: str, where: str) -> list[str]:
    """One line as one CSV row; a quoted field left open (a line break inside a field) is
    refused, so every row keeps its line number."""
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise UserError(
            f"the line is not one CSV row ({exc}): a quoted field holds a line break or a stray "
            "quote",
            where=where,
            hint="put each class on one line: remove line breaks and stray quotes inside fields",
        ) from None


def read_attribute_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """``(classes, predicates, matrix)`` from a CSV (or TSV) whose header names the predicates.

    The first column holds class names; its header cell is free (``class`` is customary).
    """
    lines = text_lines(path, "attribute table")
    header_line = lines[0][1]
    delimiter = "\t" if "\t" in header_line else ","
    rows = [_csv_row(line, delimiter, f"{path}:{number}") for number, line in lines]
    predicates = [p.strip() for p in rows[0][1:]]
    if not predicates or any(not p for p in predicates):
        raise UserError(
            "header must be 'class' followed by one name per predicate",
            where=f"{path}:{lines[0][0]}",
        )
    classes: list[str] = []
    values: list[list[float]] = []
    for (number, _), row in zip(lines[1:], rows[1:], strict=True):
        where = f"{path}:{number}"
        if len(row) != len(predicates) + 1:
            raise UserError(
                f"row has {len(row) - 1} values; the header names {len(predicates)} predicates",
                where=where,
            )
        name = row[0].strip()
        if not name or name in classes:
            raise UserError(f"class name {name!r} is empty or repeated", where=where)
        try:
            numbers = [float(v) for v in row[1:]]
        except ValueError:
            bad = next(v for v in row[1:] if not _is_number(v))
            raise UserError(f"{bad!r} is not a number", where=where) from None
        if not all(math.isfinite(v) for v in numbers):
            bad = next(v for v in row[1:] if not math.isfinite(float(v)))
            raise UserError(f"{bad.strip()!r} is not a finite number", where=where)
        values.append(numbers)
        classes.append(name)
    if not classes:
        raise UserError("attribute table has a header but no classes", where=str(path))
    return classes, predicates, np.asarray(values, dtype=np.float64)


#: the longest file or folder name (in bytes) common file systems allow
NAME_MAX = 255


def class_folder(images: Path, class_name: str, listed_at: str) -> Path:
    """``images/class_name``, for a class name that is one folder name: never a path that
    leads out of the data set (``..``, ``/``) and never longer than a name may be."""
    if class_name in ("", ".", "..") or any(c in class_name for c in "/\\\0"):
        raise UserError(
            f"class name {class_name!r} is not a folder name (it must not be '.' or '..' or "
            "contain / or \\), so its images cannot be found inside the data set",
            where=listed_at,
            hint="rename the class (and its folder of images)",
        )
    if len(class_name.encode("utf-8")) > NAME_MAX:
        raise UserError(
            f"class name '{class_name[:40]}...' is longer than {NAME_MAX} bytes, the most a "
            "folder name may be",
            where=listed_at,
            hint="give the class a shorter name (and its folder of images)",
        )
    return images / class_name


def class_images(folder: Path, class_name: str, listed_at: str) -> list[Path]:
    """Image files of one class folder, sorted (hidden files, such as a writer's temporary
    ones, left out); a missing folder is the user's to fix."""
    if not folder.is_dir():
        raise UserError(
            f"class folder missing for class '{class_name}' (listed at {listed_at})",
            where=str(folder),
            hint="every class in the split needs a folder of its images",
        )
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and is_image_file(p)
    )


def resolve(root: Path, name: str) -> Path:
    """``name`` relative to ``root`` unless absolute."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path
