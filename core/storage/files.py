"""The one way zsk writes a file: atomically, under a temporary name of its own, errors explained.

Every writer in zsk goes through :func:`write_file` (bytes or text) or :func:`writing` (a library
that wants a path to write to, such as safetensors, Pillow or NumPy). Both write a temporary file
next to the target whose name is unique to the writing process and call, give it the usual
permissions (0666 less the umask, whatever the library chose), flush it to disk, rename it over
the target and flush the folder, so a reader sees the old file or the new one, never half
of one, and two writers never share a temporary file. When anything fails the temporary file is
removed and the previous file is left exactly as it was.

An :class:`OSError` that the user can fix (a full disk, a read-only folder, a missing permission,
a name too long, a file where a folder should be) becomes a :class:`~zsk.registry.UserError`
naming the path and the fix, so the CLI exits 2 without a traceback. So does a library's own
error for the same cause (safetensors' ``SafetensorError`` carries the ``os error`` number; NumPy
reports a short write without one, which a folder whose disk is full explains).

A writer killed before its rename leaves its temporary file behind; the first write into a
folder in each process removes the temporaries there whose writer is no longer running (but
not those an interrupted commit's journal names: :mod:`zsk.core.storage.commit`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from zsk.core.storage.commit import (
    Commit,
    apply_commit,
    journal_temporaries,
    journal_text,
    plan_commit,
    writer_ended,
)
from zsk.registry import UserError

#: errno -> (what went wrong, how to fix it); ``{path}`` is filled in
_EXPLAINED: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "no space left on the device holding {path}",
        "free some space or write elsewhere, then run the command again",
    ),
    errno.EDQUOT: (
        "disk quota exceeded writing {path}",
        "free some space within your quota or write elsewhere, then run the command again",
    ),
    errno.EROFS: (
        "{path} is on a read-only file system",
        "write to a writable folder (e.g. give another --out or run directory)",
    ),
    errno.EACCES: (
        "no permission to write {path}",
        "make its folder writable for you, or write elsewhere",
    ),
    errno.EPERM: (
        "not permitted to write {path}",
        "make its folder writable for you, or write elsewhere",
    ),
    errno.ENAMETOOLONG: (
        "the file name {path} is too long for its file system",
        "choose a shorter name",
    ),
    errno.EEXIST: (
        "{path} exists and is in the way (a file where a folder is needed?)",
        "move it away or choose another path",
    ),
    errno.ENOTDIR: (
        "a part of {path} is a file, not a folder",
        "choose a path whose folders are folders",
    ),
    errno.EISDIR: (
        "{path} is a folder, not a file",
        "give a file name inside it",
    ),
}


#: how libraries that are not Python's own I/O name the operating system's error number
_OS_ERROR_NUMBER = re.compile(r"\(os error (\d+)\)")
#: a hidden temporary file of :func:`temporary_name`, with the writer's process id
_TEMPORARY = re.compile(r"^\..*\.tmp-(\d+)-[0-9a-f]{8}(\.[^.]*)?$")


def explain(exc: BaseException, path: Path | str, action: str = "writing") -> UserError | None:
    """The user's version of ``exc`` raised while ``action`` ``path``, or None for a bug.

    ``exc`` is an :class:`OSError` or a library's error that names an ``(os error N)``; an
    :class:`OSError` without a number (NumPy's short write) while the disk holding ``path`` is
    full is that full disk.
    """
    if isinstance(exc, OSError):
        code = exc.errno
        if code is None and _disk_full(Path(path).parent):
            code = errno.ENOSPC
    else:
        found = _OS_ERROR_NUMBER.search(str(exc))
        code = int(found.group(1)) if found else None
    if code is None or code not in _EXPLAINED:
        return None
    what, fix = _EXPLAINED[code]
    return UserError(f"{action} failed: {what.format(path=path)} ({os.strerror(code)})", hint=fix)


def _disk_full(folder: Path) -> bool:
    try:
        usage = os.statvfs(folder)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < 64 * 1024


@contextlib.contextmanager
def explained(path: Path | str, action: str = "writing") -> Iterator[None]:
    """Turn an :class:`OSError` the user can fix into a :class:`UserError` about ``path``."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:  # an OSError, or a library's error wrapping one
        error = explain(exc, path, action)
        if error is None:
            raise
        raise error from None


def make_folder(path: Path) -> Path:
    """``mkdir -p``, with the user's errors explained."""
    path = Path(path)
    with explained(path, "creating the folder"):
        path.mkdir(parents=True, exist_ok=True)
    return path


def temporary_name(path: Path) -> Path:
    """A hidden name next to ``path``, unique to this writer, keeping ``path``'s extension
    (libraries such as Pillow pick the format from it)."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.stem}.tmp-{token}{path.suffix}")


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files in ``folder`` whose writer process has ended (killed before
    its rename); return them. Temporaries of running writers, and those that a journal of an
    interrupted commit names (:mod:`zsk.core.storage.commit`), are left alone."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    kept = journal_temporaries(folder)
    for name in names:
        match = _TEMPORARY.match(name)
        if match and name not in kept and writer_ended(int(match.group(1))):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
                removed.append(folder / name)
    return removed


#: folders this process has already cleaned of dead writers' temporaries
_swept: set[Path] = set()


def _sweep_once(folder: Path) -> None:
    key = folder.absolute()
    if key not in _swept:
        _swept.add(key)
        remove_dead_temporaries(folder)


_UMASK: list[int] = []


def _umask() -> int:
    """The process's umask (read once: reading it means setting it)."""
    if not _UMASK:
        _UMASK.append(os.umask(0o022))
        os.umask(_UMASK[0])
    return _UMASK[0]


class Staging:
    """Files written under temporary names and put in place together (see
    :func:`writing_together`)."""

    def __init__(self, durable: bool):
        self.durable = durable
        self.staged: list[tuple[Path, Path]] = []
        self.removals: list[Path] = []
        self.journaled = False

    @contextlib.contextmanager
    def file(self, path: Path | str) -> Iterator[Path]:
        """Yield a temporary path to write ``path``'s new content to; it is flushed on exit."""
        path = Path(path)
        make_folder(path.parent)
        _sweep_once(path.parent)
        temporary = temporary_name(path)
        self.staged.append((temporary, path))
        with explained(path):
            yield temporary
            os.chmod(temporary, 0o666 & ~_umask())  # libraries that create 0600 files, too
            if self.durable:
                with open(temporary, "rb+") as handle:
                    os.fsync(handle.fileno())

    def remove(self, path: Path | str) -> None:
        """Remove ``path`` (when it exists) with the staged files, after they are in place."""
        self.removals.append(Path(path))

    def commit(self) -> None:
        """Put every staged file in place and remove the files to remove; with more than one
        change, under a journal that the next command completes after a kill (see
        :mod:`zsk.core.storage.commit`)."""
        changes = plan_commit(self.staged, self.removals)
        if len(changes.renames) + len(changes.removals) > 1:
            self._write_journal(changes)
        else:
            changes = dataclasses.replace(changes, journals=())
        apply_commit(changes, explained, durable=self.durable)

    def _write_journal(self, changes: Commit) -> None:
        try:
            for journal in changes.journals:
                write_file(journal, journal_text(changes, journal), durable=self.durable)
        except BaseException:
            for journal in changes.journals:
                with contextlib.suppress(OSError):
                    journal.unlink(missing_ok=True)
            raise
        # from here the temporaries are the journal's: a failure leaves them for the next
        # command that takes the run's lock to put in place
        self.journaled = True

    def discard(self) -> None:
        if self.journaled:
            return
        for temporary, _ in self.staged:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def writing_together(*, durable: bool = True) -> Iterator[Staging]:
    """Write several files that belong together (a run's lock file and weights): each is staged
    with ``staging.file(path)`` (and files to remove named with ``staging.remove(path)``), and
    only when every one is written and flushed are they put in place, as one step even across
    a kill (:mod:`zsk.core.storage.commit`). Any failure before that leaves every previous file
    as it was and removes every temporary."""
    staging = Staging(durable)
    try:
        yield staging
        staging.commit()
    finally:
        staging.discard()


@contextlib.contextmanager
def writing(path: Path | str, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    ``durable`` flushes the file and its folder to disk before and after the rename (a power
    cut then keeps the old file or the new one); files that are cheap to make again (generated
    data sets, crops) pass False and are still written atomically.
    """
    with writing_together(durable=durable) as staging, staging.file(path) as temporary:
        yield temporary


def write_file(path: Path | str, content: bytes | str, *, durable: bool = True) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` atomically; return ``path``."""
    payload = content.encode("utf-8") if isinstance(content, str) else content
    with writing(path, durable=durable) as temporary, open(temporary, "wb") as handle:
        handle.write(payload)
    return Path(path)


def append_line(path: Path | str, line: str) -> None:
    """Append one line to a log such as ``metrics.jsonl`` (appends are not renamed into place)."""
    with explained(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")


def image_format(path: Path | str) -> str:
    """Pillow's format for ``path``'s extension, or a UserError naming the ones it knows."""
    suffix = Path(path).suffix.lower()
    known = Image.registered_extensions()
    if suffix not in known:
        raise UserError(
            f"cannot write an image to {path}: unknown image extension {suffix or '(none)'!r}",
            hint="end the file name in .png or .jpg (or another extension Pillow writes)",
        )
    return known[suffix]
