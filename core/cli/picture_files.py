"""Where ``zsk generate`` and ``zsk translate`` write their pictures: the ``--out`` option and
the default file name under ``RUN_DIR/pictures``."""

from __future__ import annotations

import re

import click

from zsk.core.cli.path_types import FILE

PICTURES_DIR = "pictures"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "picture"


def out_option(command: str):
    return click.option(
        "--out",
        type=FILE,
        help=f"PNG to write (default RUN_DIR/{PICTURES_DIR}/{command}-....png).",
    )
