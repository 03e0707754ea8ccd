"""The one way zsk writes a file: atomically, under a temporary name of its own, errors explained.

Every writer in zsk goes through :func:`write_file` (bytes or text) or :func:`writing` (a library
that wants a path to write to, such as safetensors, Pillow or NumPy). Both write a temporary file
next to the target whose name is unique to the writing process and call, flush it to disk, rename
it over the target and flush the folder, so a reader sees the old file or the new one, never half
of one, and two writers never share a temporary file. When anything fails the temporary file is
removed and the previous file is left exactly as it was.

An :class:`OSError` that the user can fix (a full disk, a read-only folder, a missing permission,
a name too long, a file where a folder should be) becomes a :class:`~zsk.registry.UserError`
naming the path and the fix, so the CLI exits 2 without a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

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


def explain(exc: OSError, path: Path | str, action: str = "writing") -> UserError | None:
    """The user's version of ``exc`` raised while ``action`` ``path``, or None for a bug."""
    if exc.errno not in _EXPLAINED:
        return None
    what, fix = _EXPLAINED[exc.errno]
    return UserError(f"{action} failed: {what.format(path=path)} ({exc.strerror})", hint=fix)


@contextlib.contextmanager
def explained(path: Path | str, action: str = "writing") -> Iterator[None]:
    """Turn an :class:`OSError` the user can fix into a :class:`UserError` about ``path``."""
    try:
        yield
    except OSError as exc:
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


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform or file system without folder handles
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def writing(path: Path | str, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    ``durable`` flushes the file and its folder to disk before and after the rename (a power
    cut then keeps the old file or the new one); files that are cheap to make again (generated
    data sets, crops) pass False and are still written atomically.
    """
    path = Path(path)
    make_folder(path.parent)
    temporary = temporary_name(path)
    try:
        with explained(path):
            yield temporary
            if durable:
                with open(temporary, "rb+") as handle:
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
            if durable:
                _fsync_folder(path.parent)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


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
