"""Several files put in place as one step, even when the process is killed between two renames.

:func:`zsk.core.storage.files.writing_together` writes each file under a temporary name and
flushes it. When it has more than one change to make (a build's lock files, weights and
``stages.lock.yaml``, the files of a run it retires), it then writes a *journal*: a hidden file
``.zsk-commit-PID-RANDOM.json`` in every folder the changes touch, each naming every change
relative to itself. Then it makes the changes (renames, then removals), flushes the folders and
deletes the journal.

A kill before every copy of the journal is written leaves every old file (its temporaries are
a killed writer's, which the next command removes); a kill after leaves the journal, and the
next command that takes the run's lock completes the changes (:func:`complete_interrupted`):
every temporary was whole and flushed before the journal was written, so the run is all new.
A journal with a copy missing was being written (no change made yet) or being deleted (every
change made), so its copies are only deleted. Making a journal's changes twice is harmless: a
rename whose temporary is gone was made, and a removal names the file it removes (its inode,
size and change time), never a file written at that path since. The cleaner of killed
writers' temporaries keeps the ones a journal in their folder names
(:func:`journal_temporaries`): while a change is unmade, every folder the commit touches holds
a copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zsk.registry import UserError

#: a journal's name, with its writer's process id
_JOURNAL = re.compile(r"^\.zsk-commit-(\d+)-[0-9a-f]{8}\.json$")
_FORMAT = "zsk-commit-1"

#: ``guard(path)``: a context in which an error of a change to ``path`` is explained
Guard = Callable[[Path], contextlib.AbstractContextManager]


def writer_ended(pid: int) -> bool:
    """Whether process ``pid`` (a temporary's or journal's writer) has ended, on this machine."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # running, as another user
        return False
    return False


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (renames, removals) to disk, where the platform can."""
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


@dataclass(frozen=True)
class Commit:
    """The changes of one commit: temporaries renamed over their targets, then files removed
    (each with its identity, :func:`_identity`), and the copies of the journal naming them,
    one per folder."""

    renames: tuple[tuple[Path, Path], ...]
    removals: tuple[tuple[Path, list[int]], ...]
    journals: tuple[Path, ...]

    @property
    def folders(self) -> list[Path]:
        changed = [target.parent for _, target in self.renames]
        changed += [path.parent for path, _ in self.removals]
        return list(dict.fromkeys(changed))


def plan_commit(renames: Iterable[tuple[Path, Path]], removals: Iterable[Path]) -> Commit:
    """The commit of ``renames`` (temporary, target) and of removing the ``removals`` that
    exist, with a journal name of this process for every folder they touch."""
    present = []
    for path in removals:
        identity = _identity(Path(path))
        if identity is not None:
            present.append((Path(path), identity))
    draft = Commit(tuple((Path(t), Path(p)) for t, p in renames), tuple(present), ())
    name = f".zsk-commit-{os.getpid()}-{secrets.token_hex(4)}.json"
    return Commit(draft.renames, draft.removals, tuple(folder / name for folder in draft.folders))


def journal_text(commit: Commit, journal: Path) -> str:
    """The journal kept at ``journal``: every change, by paths relative to its folder (a run
    directory moved as a whole keeps its journal valid)."""
    here = journal.parent

    def relative(path: Path) -> str:
        return os.path.relpath(path, here)

    return json.dumps(
        {
            "format": _FORMAT,
            "renames": [[relative(t), relative(p)] for t, p in commit.renames],
            "removals": [[relative(p), identity] for p, identity in commit.removals],
            "journals": [relative(j) for j in commit.journals],
        },
        indent=1,
    )


def read_journal(journal: Path) -> Commit:
    """The commit a journal names; a :class:`UserError` naming it when it is damaged."""

    def here(relative: str) -> Path:
        return Path(os.path.normpath(journal.parent / relative))

    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        if record["format"] != _FORMAT:
            raise ValueError(f"format {record['format']!r}")
        renames = tuple((here(t), here(p)) for t, p in record["renames"])
        removals = tuple(
            (here(p), [int(n) for n in identity]) for p, identity in record["removals"]
        )
        journals = tuple(here(j) for j in record["journals"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"the journal of an interrupted write {journal} is unreadable ({exc}), so the "
            "files it names cannot be put in place",
            hint="delete it and build the run again (zsk build SPEC --out RUN_DIR --force)",
        ) from None
    return Commit(renames, removals, journals)


def apply_commit(commit: Commit, guard: Guard, *, durable: bool = True) -> None:
    """Make the commit's changes that are not made yet (see module), then delete its journal."""
    for temporary, target in commit.renames:
        if temporary.exists():
            with guard(target):
                os.replace(temporary, target)
    for path, identity in commit.removals:
        if _identity(path) == identity:
            with contextlib.suppress(FileNotFoundError), guard(path):
                path.unlink()
    if durable:
        for folder in commit.folders:
            fsync_folder(folder)
    for journal in commit.journals:
        with guard(journal):
            journal.unlink(missing_ok=True)
    if durable:
        for folder in commit.folders:
            fsync_folder(folder)


def _journals(folder: Path) -> Iterator[tuple[Path, int]]:
    """Each journal in ``folder`` with its writer's process id."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        match = _JOURNAL.match(name)
        if match:
            yield folder / name, int(match.group(1))


def interrupted_journals(folder: Path) -> list[Path]:
    """The journals in ``folder`` whose writer ended before it deleted them."""
    return [journal for journal, pid in _journals(folder) if writer_ended(pid)]


def journal_temporaries(folder: Path) -> set[str]:
    """Names of the temporaries in ``folder`` that a journal there names (to be put in place,
    never removed as a killed writer's); an unreadable journal names none."""
    names = set()
    for journal, _ in _journals(folder):
        with contextlib.suppress(UserError):
            for temporary, _ in read_journal(journal).renames:
                if temporary.parent == Path(os.path.normpath(folder)):
                    names.add(temporary.name)
    return names


def complete_interrupted(folders: Iterable[Path], guard: Guard) -> list[Path]:
    """Complete every interrupted commit with a journal in ``folders`` whose copies are all
    there, and delete the copies of the others (see module); the caller holds the lock of the
    run they belong to. Returns the targets put in place or removed."""
    done: list[Path] = []
    for folder in folders:
        for journal in interrupted_journals(folder):
            if not journal.exists():  # deleted with an earlier copy of its commit
                continue
            commit = read_journal(journal)
            if not all(copy.exists() for copy in commit.journals):
                commit = Commit((), (), commit.journals)  # nothing made yet, or all made
            done += [t for temporary, t in commit.renames if temporary.exists()]
            done += [p for p, identity in commit.removals if _identity(p) == identity]
            apply_commit(commit, guard)
    return done


def _identity(path: Path) -> list[int] | None:
    """What tells the file at ``path`` from one written there later: its inode, size and
    change time (None when there is none)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return [found.st_ino, found.st_size, found.st_ctime_ns]
