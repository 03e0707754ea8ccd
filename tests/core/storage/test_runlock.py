"""The run directory's lock: one holder, named to the next; a dead holder's lock taken over."""

from __future__ import annotations

import json
import os
import socket

import pytest

from zsk.core.storage.runlock import LOCK_FILE, run_lock
from zsk.core.train.reporter import truncate_metrics
from zsk.registry import UserError


def test_a_held_lock_refuses_the_next_holder_naming_the_first(tmp_path):
    with run_lock(tmp_path, "zsk train"):
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(UserError) as refused, run_lock(tmp_path, "zsk build"):
            pass
    message = refused.value.render()
    assert f"is in use by `zsk train` (pid {os.getpid()} on host {socket.gethostname()}" in message
    assert "wait for it to finish" in message
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: the next one needs no takeover
    said = []
    with run_lock(tmp_path, "zsk train", say=said.append):
        pass
    assert said == []


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path):
    left = {"pid": 99999999, "host": "elsewhere", "command": "zsk train", "since": "then"}
    (tmp_path / LOCK_FILE).write_text(json.dumps(left))
    said = []
    with run_lock(tmp_path, "zsk train", say=said.append):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert len(said) == 1 and "pid 99999999 on host elsewhere" in said[0]
    assert "ended without releasing it" in said[0]


def test_metrics_after_the_resumed_step_and_torn_lines_are_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [json.dumps({"step": s, "loss": s / 10}) for s in (2, 4, 6)]
    path.write_text("\n".join(records) + '\n{"step": 8, "lo')  # a kill mid-line
    truncate_metrics(path, 4)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [2, 4]
    unchanged = path.stat().st_mtime_ns
    truncate_metrics(path, 4)
    assert path.stat().st_mtime_ns == unchanged  # nothing to drop: not rewritten
    truncate_metrics(tmp_path / "absent.jsonl", 0)
    assert not (tmp_path / "absent.jsonl").exists()
