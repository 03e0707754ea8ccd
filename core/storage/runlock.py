"""One writer per run directory: an advisory lock that names its holder.

``zsk train`` and ``zsk build`` hold ``RUN_DIR/.zsk-lock`` while they write the run's checkpoints,
metrics or weights. The lock is an ``flock`` on that file, so the operating system releases it
when its process ends, however it ends; the file's text names the holder (pid, host, command,
start time) for the message a second process gets. A holder that ends normally empties the file;
a lock file that still names a holder when its lock is free was left by a process that was
killed, and the next process takes it over with a message saying so. A holder that passes
``shared_within=True`` lets the code it calls take the same lock again (``zsk train`` holds the
run's lock while its validation run trains, and its trainer then takes it for the run); any
other second taker is refused, in this process too. Taking a lock also removes the temporary
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
        _remove_dead_temporaries(Path(run_dir))
        if shared_within:
            _shared.add(key)
        try:
            yield
        finally:
            _shared.discard(key)
            _rewrite(descriptor, "", path)
    finally:
        os.close(descriptor)  # releases the lock


def _remove_dead_temporaries(run_dir: Path) -> None:
    """Killed writers' temporaries in the run directory and its folders (checkpoints, samples)."""
    remove_dead_temporaries(run_dir)
    with contextlib.suppress(OSError):
        for folder in run_dir.iterdir():
            if folder.is_dir():
                remove_dead_temporaries(folder)


def _read(descriptor: int) -> str:
    os.lseek(descriptor, 0, os.SEEK_SET)
    return os.read(descriptor, 4096).decode("utf-8", errors="replace")


def _rewrite(descriptor: int, text: str, path: Path) -> None:
    with explained(path, "writing the lock"):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, text.encode(), 0)
