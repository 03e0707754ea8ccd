"""One writer per run directory: an advisory lock that names its holder.

``zsk train`` and ``zsk build`` hold ``RUN_DIR/.zsk-lock`` while they write the run's checkpoints,
metrics or weights. The lock is an ``flock`` on that file, so the operating system releases it
when its process ends, however it ends; the file's text names the holder (pid, host, command,
start time) for the message a second process gets. A holder that ends normally empties the file;
a lock file that still names a holder when its lock is free was left by a process that was
killed, and the next process takes it over with a message saying so. A holder that passes
``shared_within=True`` lets the code it calls take the same lock again (``zsk train`` holds the
run's lock while its validation run trains, and its trainer then takes it for the run); any
other second taker is refused, in this process too. Taking a lock first completes what a killed
writer's commit journal names (:mod:`zsk.core.storage.commit`: a build killed between two
renames is put in place whole, and the holder says so in one line), then removes the temporary
files that killed writers left in the run directory and its folders.

The lock file is the one file zsk rewrites in place instead of through
:mod:`zsk.core.storage.files`: a lock lives on the file itself, which a rename would replace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from zsk.core.storage.commit import complete_interrupted
from zsk.core.storage.files import explained, make_folder, remove_dead_temporaries
from zsk.registry import UserError

LOCK_FILE = ".zsk-lock"

#: run directories (resolved) whose lock this process holds with ``shared_within=True``
_shared: set[Path] = set()


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return (
            f"`{info['command']}` (pid {info['pid']} on host {info['host']}, since {info['since']})"
        )
    except (ValueError, KeyError, TypeError):
        return "another process (its lock file is unreadable)"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def run_lock(
    run_dir: Path,
    command: str,
    *,
    say: Callable[[str], None] = _say,
    shared_within: bool = False,
) -> Iterator[None]:
    """Hold ``run_dir``'s lock, or raise a :class:`UserError` naming the process that holds it.

    With ``shared_within`` the calls made while it is held may take it again."""
    path = make_folder(Path(run_dir)) / LOCK_FILE
    key = Path(run_dir).resolve()
    if key in _shared:
        yield
        return
    with explained(path, "locking the run directory"):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"{run_dir} is in use by {_holder(_read(descriptor))}",
                hint="wait for it to finish or stop it; two processes writing one run would mix "
                "their checkpoints and metrics",
            ) from None
        left = _read(descriptor)
        if left.strip():
            say(
                f"taking over the lock of {run_dir} from {_holder(left)}, which ended without "
                "releasing it"
            )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        _rewrite(descriptor, json.dumps(info) + "\n", path)
        try:
            _complete_interrupted_commits(Path(run_dir), say)
            _remove_dead_temporaries(Path(run_dir))
            if shared_within:
                _shared.add(key)
            yield
        finally:
            _shared.discard(key)
            _rewrite(descriptor, "", path)
    finally:
        os.close(descriptor)  # releases the lock


def _folders(run_dir: Path) -> list[Path]:
    """The run directory and its folders (checkpoints, samples, a validation run, stages)."""
    folders = [run_dir]
    with contextlib.suppress(OSError):
        folders += sorted(folder for folder in run_dir.iterdir() if folder.is_dir())
    return folders


def _complete_interrupted_commits(run_dir: Path, say: Callable[[str], None]) -> None:
    """Put in place what a killed ``zsk build`` had begun to (its journal names it), in one line."""
    done = complete_interrupted(_folders(run_dir), explained)
    if done:
        names = ", ".join(_shown(path, run_dir) for path in done)
        say(f"completed an interrupted write of {run_dir}: {names}")


def _shown(path: Path, run_dir: Path) -> str:
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def _remove_dead_temporaries(run_dir: Path) -> None:
    """Killed writers' temporaries in the run directory and its folders."""
    for folder in _folders(run_dir):
        remove_dead_temporaries(folder)


def _read(descriptor: int) -> str:
    os.lseek(descriptor, 0, os.SEEK_SET)
    return os.read(descriptor, 4096).decode("utf-8", errors="replace")


def _rewrite(descriptor: int, text: str, path: Path) -> None:
    with explained(path, "writing the lock"):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, text.encode(), 0)
