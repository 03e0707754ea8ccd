"""Reading a data set folder for the ``zsk data`` commands, through the registered readers."""

from __future__ import annotations

from pathlib import Path

from zsk.core.data.layout import detect_format
from zsk.core.data.types import ZslData
from zsk.registry import get_registry

FORMATS = ("auto", "awa2", "image_folder")


def load_folder(root: Path, fmt: str = "auto") -> tuple[str, ZslData]:
    """``(format, data)`` for the folder ``root`` read with its reader's default options.

    ``fmt="auto"`` picks ``awa2`` when ``classes.txt`` is present, ``image_folder`` when
    ``attributes.csv`` is.
    """
    name = detect_format(root) if fmt == "auto" else fmt
    cls = get_registry().component("dataset", name)
    return name, cls(cls.Params(root=str(root))).load()
