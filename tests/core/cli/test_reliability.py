"""Faults a user can cause, run through the CLI: each exits 0 or 2 with a located message, loses
nothing, and leaves a run that still resumes bit for bit (docs/reliability.md lists them)."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests import tiny_runs
from tests.core.cli.faults import own_data, refused, start_training, zsk
from zsk.core.storage import files
from zsk.core.storage.runlock import LOCK_FILE, run_lock
from zsk.core.train import checkpoint
from zsk.core.train.checkpoint import find_latest, read_checkpoint
from zsk.registry import hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin

EXAMPLE = Path(__file__).parents[3] / "examples" / "shapes.yaml"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory with the tiny data set and a built (untrained) run."""
    monkeypatch.chdir(tmp_path)
    with tiny_runs.registered_run(tmp_path, steps=4, checkpoint_every=1) as run_dir:
        yield run_dir


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert path.exists(), process.communicate()


def _steps(run):
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


# runs and their files ----------------------------------------------------------------------
def test_a_second_trainer_of_one_run_is_refused_naming_the_first(project):
    first = start_training(project, "--steps", "100000")
    try:
        _wait_for(project / "metrics.jsonl", first)
        second = zsk("train", project, "--device", "cpu", "--resume", "--steps", "100000")
        refused(second, "is in use by `zsk train`", f"pid {first.pid}", socket.gethostname())
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143
    steps = _steps(project)
    assert steps == sorted(set(steps))  # one writer: every step once


def test_a_lock_left_by_a_killed_process_is_taken_over(project):
    (project / LOCK_FILE).write_text(
        json.dumps({"pid": 4242, "host": "gone", "command": "zsk train", "since": "earlier"})
    )
    result = zsk("train", project, "--device", "cpu", "--steps", "1")
    assert result.exit_code == 0, result.output
    assert "taking over the lock" in result.output and "pid 4242 on host gone" in result.output
    assert (project / LOCK_FILE).read_text() == ""  # released on exit


def test_build_refuses_a_run_that_is_training(project):
    before = (project / "init.safetensors").read_bytes()
    with run_lock(project, "zsk train"):
        result = zsk("build", project.parent / "tiny.yaml", "--out", project)
    refused(result, "is in use by `zsk train`", f"pid {os.getpid()}")
    assert (project / "init.safetensors").read_bytes() == before


def test_kill_9_at_any_moment_resumes_bit_for_bit_and_metrics_never_double_back(project, tmp_path):
    straight = tiny_runs.write_run(tmp_path / "straight", tmp_path / "data", steps=4)
    assert zsk("train", straight, "--device", "cpu").exit_code == 0
    for delay in (0.0, 0.3):  # during the first checkpoint, and a little later
        process = start_training(project)
        _wait_for(project / "checkpoints", process)
        time.sleep(delay)
        process.kill()
        process.wait()
        resumed = zsk("train", project, "--device", "cpu", "--resume")
        if resumed.exit_code == 2:  # the kill came after the last step
            assert "already trained to step 4" in resumed.output
        else:
            assert resumed.exit_code == 0, resumed.output
        if delay == 0.0:
            (project / "checkpoints").rename(tmp_path / "first-try")
            (project / "metrics.jsonl").unlink()
    expected, _ = read_checkpoint(find_latest(straight))
    actual, _ = read_checkpoint(find_latest(project))
    assert expected.keys() == actual.keys()
    assert [k for k in expected if not torch.equal(expected[k], actual[k])] == []
    assert _steps(project) == [2, 4]


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(project, monkeypatch):
    real_write, real_fsync = checkpoint.write_file, files.os.fsync

    def full_at_step_3(path, content, **kwargs):
        if "step-000000003" in str(path):
            monkeypatch.setattr(files.os, "fsync", _raise(errno.ENOSPC))
        return real_write(path, content, **kwargs)

    monkeypatch.setattr(checkpoint, "write_file", full_at_step_3)
    result = zsk("train", project, "--device", "cpu")
    refused(result, "no space left on the device", "step-000000003", "free some space")
    monkeypatch.setattr(checkpoint, "write_file", real_write)
    monkeypatch.setattr(files.os, "fsync", real_fsync)
    folder = project / "checkpoints"
    assert [p.name for p in folder.iterdir() if ".tmp-" in p.name] == []
    assert find_latest(project).name == "step-000000002.safetensors"
    read_checkpoint(find_latest(project))  # intact
    resumed = zsk("train", project, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0, resumed.output


def _raise(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def test_disk_full_while_building_keeps_the_previous_build(project, monkeypatch):
    names = ("spec.lock.yaml", "init.safetensors")
    before = {name: (project / name).read_bytes() for name in names}
    monkeypatch.setattr(files.os, "fsync", _raise(errno.ENOSPC))
    result = zsk("build", project.parent / "tiny.yaml", "--out", project)
    refused(result, "no space left", "init.safetensors")
    assert {name: (project / name).read_bytes() for name in names} == before
    assert [p.name for p in project.iterdir() if ".tmp-" in p.name] == []


def test_a_read_only_run_directory_is_explained(project, monkeypatch):
    monkeypatch.setattr(files.os, "replace", _raise(errno.EROFS))
    result = zsk("train", project, "--device", "cpu", "--steps", "1")
    refused(result, "read-only file system", str(project))


def test_resume_without_sidecars_is_refused_not_restarted(project):
    assert zsk("train", project, "--device", "cpu", "--steps", "2").exit_code == 0
    for sidecar in (project / "checkpoints").glob("*.json"):
        sidecar.unlink()
    result = zsk("train", project, "--device", "cpu", "--resume")
    refused(result, "no usable sidecar", "step-000000002.safetensors")


def test_outputs_that_cannot_be_written_exit_2(project, tmp_path):
    assert zsk("train", project, "--device", "cpu", "--steps", "1").exit_code == 0
    blocker = tmp_path / "passwd"
    blocker.write_text("a file")
    under_a_file = zsk("generate", project, "--class", "red", "--out", blocker / "x.png")
    refused(under_a_file, str(blocker), "a file where a folder is needed")
    unknown = zsk("generate", project, "--class", "red", "--out", tmp_path / "out.txt")
    refused(unknown, "unknown image extension '.txt'", ".png")
    schema = zsk("schema", "--out", blocker / "schema.json")
    refused(schema, str(blocker))


# what the CLI reads ------------------------------------------------------------------------
def test_a_latest_file_that_is_not_utf8_is_explained(project):
    (Path("runs") / ".latest").write_bytes(b"\xff\xfe runs/x")
    refused(zsk("train", "--device", "cpu"), "runs/.latest", "not UTF-8", "zsk build")


@pytest.mark.parametrize("value", ["[" * 5000, "{a: " * 3000, "[" * 60 + "]" * 60])
def test_a_deeply_nested_override_is_refused(value):
    result = zsk("build", EXAMPLE, "--set", f"train.batch_size={value}")
    refused(result, "--set train.batch_size=")


def test_a_raising_command_hook_is_a_failed_plugin_not_a_broken_cli():
    class Broken:
        @hookimpl
        def zsk_register_commands(self, cli):
            @cli.command("half-added")
            def half_added():
                """Added before the hook raised."""

            raise RuntimeError("boom")

    register_plugin(Broken(), "broken-commands")
    try:
        helped = zsk("--help")
        assert helped.exit_code == 0, helped.output
        assert "plugins" in helped.output and "half-added" not in helped.output
        listed = zsk("plugins", "--json", "--failed")
        assert listed.exit_code == 0, listed.output
        failed = json.loads(listed.output)
        assert any(
            f["plugin"] == "broken-commands"
            and "zsk_register_commands raised RuntimeError: boom" in f["error"]
            for f in failed
        ), failed
    finally:
        unregister_plugin("broken-commands")


# hostile data ------------------------------------------------------------------------------
def _build_own(tmp_path, root):
    data = f"data={{type: image_folder, params: {{root: '{root}'}}}}"
    return zsk("build", EXAMPLE, "--set", data, "--out", tmp_path / "run")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../escape", "'../escape' is not a folder name"),
        ("../../../../../../etc", "is not a folder name"),
        ("x" * 300, "longer than 255 bytes"),
    ],
)
def test_class_names_stay_inside_the_data_root(tmp_path, name, words):
    outside = tmp_path / "escape"
    outside.mkdir()
    Image.new("RGB", (8, 8)).save(outside / "secret.png")
    root = own_data(tmp_path / "own", ["cat", "dog", name, "eel"], ["cat", "dog", name])
    refused(zsk("data", "check", root), words, "seen.txt:3")
    refused(_build_own(tmp_path, root), words)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_attributes_are_refused_at_check_and_build(tmp_path, value):
    root = own_data(tmp_path / "own", ["cat", "dog", "eel"], ["cat", "dog"], {"dog": value})
    refused(zsk("data", "check", root), "attributes.csv:3", "not a finite number")
    refused(_build_own(tmp_path, root), "attributes.csv:3", "not a finite number")


def test_one_seen_class_is_refused_at_build_with_the_reason(tmp_path):
    root = own_data(tmp_path / "own", ["cat", "dog", "eel"], ["cat"])
    refused(_build_own(tmp_path, root), "1 seen class", "at least two")
