"""Reading a data set folder for the ``zsk data`` commands, through the registered data sets.

Every registered data set whose ``Params`` has a ``root`` is a format these commands read
(:class:`zsk.core.components.interfaces.Dataset`); ``auto`` picks the one whose ``marker_files`` are
in the folder. Nothing here names a concrete format, so a plugin's data set is checked and
prepared exactly like a built-in one.
"""

from __future__ import annotations

from pathlib import Path

from zsk.core.components.zsl_data import ZslData
from zsk.core.data.reader_output import read_checked, reader_label
from zsk.registry import ComponentRegistry, UserError, get_registry

AUTO = "auto"


def folder_formats(registry: ComponentRegistry | None = None) -> dict[str, type]:
    """Data sets that read a folder (their ``Params`` has ``root``), by name."""
    registry = registry or get_registry()
    return {
        entry.name: entry.cls
        for entry in registry.list("dataset")
        if "root" in entry.cls.Params.model_fields
    }


def _describe(formats: dict[str, type]) -> str:
    return ", ".join(
        f"{name} ({', '.join(cls.marker_files) or 'no marker files: name it with --format'})"
        for name, cls in formats.items()
    )


def detect_format(root: Path, registry: ComponentRegistry | None = None) -> str:
    """The one format whose marker files are all in ``root`` (the most specific one when the
    marker files of one format are a part of another's)."""
    formats = folder_formats(registry)
    if not root.is_dir():
        raise UserError(
            "data set folder not found",
            where=str(root),
            hint=f"write the built-in synthetic set there with `zsk data synth {root}`",
        )
    found = {
        name: set(cls.marker_files)
        for name, cls in formats.items()
        if cls.marker_files and all((root / marker).exists() for marker in cls.marker_files)
    }
    # a format whose markers are all among another match's is the less specific one (CUB's
    # folder also has AwA2's classes.txt)
    matches = [name for name, own in found.items() if not any(own < o for o in found.values())]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UserError(
            f"the folder looks like several formats: {', '.join(matches)}",
            where=str(root),
            hint="choose one with --format NAME",
        )
    raise UserError(
        "not a data set of any known format",
        where=str(root),
        hint=f"formats and the files that mark them: {_describe(formats)}; create one with "
        "`zsk data synth DIR`, or see docs/own-data.md",
    )


def load_folder(root: Path, fmt: str = AUTO) -> tuple[str, ZslData]:
    """``(format, data)`` for the folder ``root`` read with its data set's default options."""
    formats = folder_formats()
    name = detect_format(root) if fmt == AUTO else fmt
    if name not in formats:
        get_registry().get("dataset", name)  # an unknown name: did-you-mean and the list
        raise UserError(
            f"data set '{name}' has no 'root' parameter, so it cannot read a folder",
            hint=f"formats that read a folder: {', '.join(formats)}",
        )
    cls = formats[name]
    return name, read_checked(cls(cls.Params(root=str(root))), reader_label(name))
