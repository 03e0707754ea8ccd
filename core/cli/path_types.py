"""The click types of the commands' path arguments and options, spelled once: a folder, a file,
or either; each given to the command as a ``Path``. (A module of its own so that light commands
import it without the evaluation machinery :mod:`zsk.core.cli.options` brings.)"""

from __future__ import annotations

from pathlib import Path

import click

#: A folder (a file there is refused; a missing one is left to the command).
FOLDER = click.Path(file_okay=False, path_type=Path)
#: A file (a folder there is refused; a missing one is left to the command).
FILE = click.Path(dir_okay=False, path_type=Path)
#: A file or a folder.
ANY_PATH = click.Path(path_type=Path)
