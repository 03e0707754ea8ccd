"""The one write path: atomic replacement, unique temporary names, errors a user can act on."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from zsk.core.storage import files
from zsk.core.storage.files import append_line, image_format, write_file, writing
from zsk.registry import UserError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "er" / "eval.json"
    write_file(target, "first")
    write_file(target, b"second")
    assert target.read_text() == "second"
    assert _leftovers(target.parent) == []


def test_temporary_names_are_unique_per_writer_and_keep_the_extension(tmp_path):
    target = tmp_path / "step-000000043.safetensors"
    names = {files.temporary_name(target) for _ in range(50)}
    assert len(names) == 50
    assert all(n.parent == tmp_path and n.name.startswith(".") for n in names)
    assert all(n.suffix == ".safetensors" and str(os.getpid()) in n.name for n in names)


def test_concurrent_writers_of_one_file_never_collide(tmp_path):
    target = tmp_path / "shared.bin"
    errors: list[BaseException] = []

    def write(value: int) -> None:
        try:
            for _ in range(20):
                write_file(target, bytes([value]) * 4096)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    content = target.read_bytes()
    assert len(content) == 4096 and len(set(content)) == 1  # one writer's whole file
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("code", "words", "fix"),
    [
        (errno.ENOSPC, "no space left", "free some space"),
        (errno.EROFS, "read-only file system", "writable folder"),
        (errno.EACCES, "no permission", "writable for you"),
        (errno.ENAMETOOLONG, "too long", "shorter name"),
        (errno.EEXIST, "in the way", "move it away"),
    ],
)
def test_a_failed_write_is_explained_and_keeps_the_previous_file(
    tmp_path, monkeypatch, code, words, fix
):
    target = tmp_path / "checkpoint.json"
    write_file(target, "good")

    def failing_fsync(descriptor):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(UserError) as raised:
        write_file(target, "new")
    message = raised.value.render()
    assert str(target) in message and words in message and fix in message
    assert target.read_text() == "good"
    assert _leftovers(tmp_path) == []


def test_an_error_inside_a_library_writer_removes_the_temporary(tmp_path):
    target = tmp_path / "grid.png"
    with pytest.raises(ValueError, match="encoder broke"), writing(target) as temporary:
        temporary.write_bytes(b"half")
        raise ValueError("encoder broke")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_a_bug_is_not_disguised_as_a_user_error(tmp_path, monkeypatch):
    def failing_fsync(descriptor):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(OSError) as raised:
        write_file(tmp_path / "x", "y")
    assert not isinstance(raised.value, UserError) and raised.value.errno == errno.EIO


def test_writing_under_a_file_is_a_user_error(tmp_path):
    blocker = tmp_path / "passwd"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="(?s)passwd.*(file, not a folder|in the way)"):
        write_file(blocker / "x.png", b"")
    assert blocker.read_text() == "not a folder"


def test_a_real_name_too_long_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="too long"):
        write_file(tmp_path / ("n" * 300 + ".json"), "{}")


def test_unknown_image_extension_is_refused_with_the_fix(tmp_path):
    assert image_format(tmp_path / "a.PNG") == "PNG"
    with pytest.raises(UserError, match=r"(?s)unknown image extension '\.txt'.*\.png"):
        image_format(tmp_path / "out.txt")


def test_append_line_adds_one_record_per_call(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_line(log, '{"step": 1}')
    append_line(log, '{"step": 2}\n')
    assert log.read_text() == '{"step": 1}\n{"step": 2}\n'
