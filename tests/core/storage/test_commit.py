"""Files written together are put in place as one step: a writer killed between two renames (a
real process ended with ``os._exit``) leaves a journal that the next lock holder completes,
and the cleaner of killed writers' temporaries keeps what the journal names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zsk.core.storage.files import remove_dead_temporaries, writing_together
from zsk.core.storage.runlock import LOCK_FILE, run_lock
from zsk.registry import UserError

#: writes a.txt, sub/b.txt and sub/c.txt together and removes old.txt; the process ends
#: (exit 9) just before the Nth rename whose target's name matches the pattern
WRITER = """
import os, re, sys
from pathlib import Path
from zsk.core.storage.files import writing_together
folder, pattern, stop_at = Path(sys.argv[1]), re.compile(sys.argv[2]), int(sys.argv[3])
real, seen = os.replace, []
def replace(source, target, *args, **kwargs):
    if pattern.match(os.path.basename(target)):
        seen.append(target)
        if len(seen) == stop_at:
            os._exit(9)
    real(source, target, *args, **kwargs)
os.replace = replace
with writing_together() as staging:
    for path in (folder / "a.txt", folder / "sub" / "b.txt", folder / "sub" / "c.txt"):
        with staging.file(path) as temporary:
            temporary.write_text("new")
    staging.remove(folder / "old.txt")
"""
FILES = ("a.txt", "sub/b.txt", "sub/c.txt")


def _old_files(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    for name in (*FILES, "old.txt"):
        (folder / name).write_text("old")


def _killed_writer(folder: Path, pattern: str, stop_at: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), pattern, str(stop_at)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 9, done.stderr


def _contents(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in FILES}


def _left(folder: Path) -> list[str]:
    """Temporaries and journals left anywhere in ``folder``."""
    return sorted(p.name for p in folder.rglob(".*") if ".tmp-" in p.name or "commit" in p.name)


def test_files_written_together_are_all_in_place_with_no_journal_left(tmp_path):
    _old_files(tmp_path)
    with writing_together() as staging:
        for name in FILES:
            with staging.file(tmp_path / name) as temporary:
                temporary.write_text("new")
        staging.remove(tmp_path / "old.txt")
    assert _contents(tmp_path) == dict.fromkeys(FILES, "new")
    assert not (tmp_path / "old.txt").exists() and _left(tmp_path) == []


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_a_writer_killed_between_renames_is_completed_by_the_next_lock(tmp_path, stop_at):
    _old_files(tmp_path)
    _killed_writer(tmp_path, r"^[abc]\.txt$", stop_at)
    before = _contents(tmp_path)
    assert list(before.values()).count("new") == stop_at - 1  # a mixed state, for now
    journals = sorted(p.name for p in tmp_path.rglob(".zsk-commit-*"))
    assert len(journals) == 2 and len(set(journals)) == 1  # one copy per folder
    # the cleaner of killed writers' temporaries keeps those the journal names
    assert remove_dead_temporaries(tmp_path / "sub") == []
    said: list[str] = []
    with run_lock(tmp_path, "zsk build", say=said.append):
        assert _contents(tmp_path) == dict.fromkeys(FILES, "new")
    assert not (tmp_path / "old.txt").exists()
    assert len(said) == 1 and f"completed an interrupted write of {tmp_path}" in said[0]
    pending = [name for name in FILES if before[name] == "old"] + ["old.txt"]
    assert said[0].endswith(": " + ", ".join(pending)), said[0]
    assert _left(tmp_path) == []


def test_a_writer_killed_while_writing_its_journal_leaves_the_old_files(tmp_path):
    _old_files(tmp_path)
    _killed_writer(tmp_path, r"^\.zsk-commit-", 2)  # one copy of two written
    assert len(list(tmp_path.rglob(".zsk-commit-*"))) == 1
    said: list[str] = []
    with run_lock(tmp_path, "zsk build", say=said.append):
        pass
    with run_lock(tmp_path / "sub", "zsk build", say=said.append):
        pass
    assert _contents(tmp_path) == dict.fromkeys(FILES, "old")
    assert (tmp_path / "old.txt").read_text() == "old"
    assert said == [] and _left(tmp_path) == []


def test_a_removal_is_made_only_of_the_file_the_journal_named(tmp_path):
    _old_files(tmp_path)
    _killed_writer(tmp_path, r"^[abc]\.txt$", 1)
    (tmp_path / "old.txt").unlink()
    (tmp_path / "old.txt").write_text("written since")  # another file at that path
    with run_lock(tmp_path, "zsk build", say=lambda text: None):
        pass
    assert (tmp_path / "old.txt").read_text() == "written since"
    assert _contents(tmp_path) == dict.fromkeys(FILES, "new") and _left(tmp_path) == []


def test_a_damaged_journal_is_refused_naming_it(tmp_path):
    _old_files(tmp_path)
    _killed_writer(tmp_path, r"^[abc]\.txt$", 1)
    journal = next(tmp_path.glob(".zsk-commit-*"))
    record = json.loads(journal.read_text())
    journal.write_text(json.dumps({**record, "renames": "everything"}))
    with pytest.raises(UserError) as refused, run_lock(tmp_path, "zsk build"):
        pass
    message = refused.value.render()
    assert str(journal) in message and "zsk build SPEC --out RUN_DIR --force" in message
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released, naming no holder
