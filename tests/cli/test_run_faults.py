"""A run directory is one unit: builds and trainings that are refused, killed or stopped by a full
disk leave a run whose lock file, weights and checkpoints describe one state, and no temporary
file (the ``consistent_run`` check runs after every fault). Full disks are real small tmpfs
mounts where this process may mount one."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.core.storage.runlock import run_lock
from zsk.core.train.checkpoint import find_latest, step_of

FIXTURES = Path(__file__).parents[1] / "core" / "train" / "train_fixtures.py"
sys.path.insert(0, str(FIXTURES.parent))
import train_fixtures  # noqa: E402

BUILD_FILES = ("spec.lock.yaml", "init.safetensors")


def _zsk(*args):
    with torch.random.fork_rng(devices=[]):
        return CliRunner().invoke(cli, [str(a) for a in args])


def _refused(result, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output, (word, result.output)


def _spec(folder: Path, data: Path, validation: bool = True, **train) -> Path:
    spec = train_fixtures.spec_dict(data, **train)
    if validation:
        spec["validation_run"] = {"classes": 1, "images": 0.25}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _snapshot(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name in BUILD_FILES
    }


def _fill(folder: Path, spare: int = 0) -> None:
    """Fill the file system of ``folder`` to the last block, then free ``spare`` bytes."""
    with open(folder / "spare", "wb") as handle:
        handle.write(b"\0" * spare)
    with open(folder / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    (folder / "spare").unlink()


def _start_training(run: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(FIXTURES), "train", str(run), "--device", "cpu", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        cwd=run.parent,
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert path.exists(), process.communicate()


# builds ------------------------------------------------------------------------------------
def test_build_writes_the_run_and_its_validation_run_with_ordinary_permissions(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    assert _zsk("build", _spec(tmp_path, tiny_parts), "--out", run).exit_code == 0
    consistent_run(run)
    umask = os.umask(0o022)
    os.umask(umask)
    for name in BUILD_FILES:
        for folder in (run, run / "validation"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o666 & ~umask, folder / name


def test_build_is_refused_while_the_validation_run_trains_and_changes_nothing(
    tiny_parts, tmp_path, consistent_run
):
    spec, run = _spec(tmp_path, tiny_parts, steps=100000), tmp_path / "run"
    assert _zsk("build", spec, "--out", run).exit_code == 0
    before = _snapshot(run)
    trainer = _start_training(run)
    try:
        _wait_for(run / "validation" / "metrics.jsonl", trainer)
        assert not (run / "metrics.jsonl").exists()  # still in the validation phase
        rebuilt = _zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
        _refused(rebuilt, "is in use by `zsk train`", f"pid {trainer.pid}")
    finally:
        trainer.send_signal(signal.SIGTERM)
        trainer.communicate(timeout=120)
    assert _snapshot(run) == before
    consistent_run(run)
    # a killed validation phase leaves checkpoints in RUN/validation only: refused, then --force
    # moves the whole run aside
    again = _zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
    _refused(again, "already holds training checkpoints", "validation/checkpoints", "--force")
    assert _snapshot(run) == before
    forced = _zsk("build", spec, "--out", run, "--set", "model.noise_dim=5", "--force")
    assert forced.exit_code == 0, forced.output
    assert "moved the previous run" in forced.output
    assert not (run / "validation" / "checkpoints").exists()
    consistent_run(run)


def test_a_lock_on_the_validation_run_alone_refuses_the_build(tiny_parts, tmp_path, consistent_run):
    spec, run = _spec(tmp_path, tiny_parts), tmp_path / "run"
    assert _zsk("build", spec, "--out", run).exit_code == 0
    before = _snapshot(run)
    with run_lock(run / "validation", "zsk train"):
        rebuilt = _zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
    _refused(rebuilt, f"{run / 'validation'} is in use by `zsk train`")
    assert _snapshot(run) == before
    consistent_run(run)


def test_a_rebuild_without_a_validation_run_retires_the_old_one(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    assert _zsk("build", _spec(tmp_path, tiny_parts), "--out", run).exit_code == 0
    plain = _spec(tmp_path / "plain", tiny_parts, validation=False)
    assert _zsk("build", plain, "--out", run).exit_code == 0
    assert not (run / "validation" / "spec.lock.yaml").exists()
    consistent_run(run)


def test_a_full_disk_during_a_rebuild_leaves_the_old_run_whole(
    tiny_parts, tmp_path, small_disk, consistent_run
):
    disk = small_disk(512)
    spec, run = _spec(tmp_path, tiny_parts), disk / "run"
    assert _zsk("build", spec, "--out", run).exit_code == 0
    before = _snapshot(run)
    for spare in (0, 24 * 1024):  # nothing left; room for some of the new files only
        _fill(disk, spare)
        rebuilt = _zsk("build", spec, "--out", run, "--set", "train.seed=5")
        _refused(rebuilt, "no space left on the device", str(run), "free some space")
        assert _snapshot(run) == before
        consistent_run(run)
        (disk / "filler").unlink()
    assert _zsk("build", spec, "--out", run, "--set", "train.seed=5").exit_code == 0
    assert _snapshot(run) != before
    consistent_run(run)


def test_an_edited_lock_file_is_announced_when_training(tiny_parts, tmp_path, consistent_run):
    run = tmp_path / "run"
    spec = _spec(tmp_path, tiny_parts, validation=False, steps=2)
    assert _zsk("build", spec, "--out", run).exit_code == 0
    lock = run / "spec.lock.yaml"
    lock.write_text(lock.read_text().replace("seed: 3", "seed: 4"))
    trained = _zsk("train", run, "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    assert f"{lock} is not the spec init.safetensors was built from" in trained.output
    rebuilt = _zsk("build", lock, "--out", run, "--force")
    assert rebuilt.exit_code == 0, rebuilt.output
    consistent_run(run)


# training ----------------------------------------------------------------------------------
def test_a_full_disk_while_checkpointing_exits_2_and_the_run_resumes(
    tiny_parts, tmp_path, small_disk, consistent_run
):
    disk = small_disk(1024)
    run = disk / "run"
    spec = _spec(
        tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=1, sample_every=100
    )
    assert _zsk("build", spec, "--out", run).exit_code == 0
    assert _zsk("train", run, "--device", "cpu", "--steps", "1").exit_code == 0
    _fill(disk, spare=8192)  # room for the lock and a metrics line, not a checkpoint
    full = _zsk("train", run, "--device", "cpu", "--resume")
    _refused(full, "no space left on the device", "checkpoints/step-000000002", "free some space")
    consistent_run(run)
    (disk / "filler").unlink()
    resumed = _zsk("train", run, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0, resumed.output
    consistent_run(run)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_killed_writers_are_removed_by_the_next_command(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    spec = _spec(tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=2)
    assert _zsk("build", spec, "--out", run).exit_code == 0
    assert _zsk("train", run, "--device", "cpu", "--steps", "2").exit_code == 0
    dead = _dead_pid()
    left = [
        run / f".init.tmp-{dead}-0123abcd.safetensors",
        run / "checkpoints" / f".step-000000004.tmp-{dead}-89abcdef.safetensors",
    ]
    alive = run / "checkpoints" / f".step-000000004.tmp-{os.getppid()}-00000000.json"
    for path in (*left, alive):
        path.write_bytes(b"\0" * 1000)
    resumed = _zsk("train", run, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [p for p in left if p.exists()] == []
    assert alive.exists()  # its writer is running
    alive.unlink()
    consistent_run(run)


def test_kill_9_while_writing_leaves_nothing_after_the_next_command(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    spec = _spec(tmp_path, tiny_parts, validation=False, steps=100000, checkpoint_every=1)
    assert _zsk("build", spec, "--out", run).exit_code == 0
    trainer = _start_training(run)
    _wait_for(run / "checkpoints", trainer)
    time.sleep(0.5)
    trainer.kill()
    trainer.wait()
    latest = find_latest(run)
    step = step_of(latest) if latest is not None else 0
    resumed = _zsk("train", run, "--device", "cpu", "--resume", "--steps", step + 1)
    assert resumed.exit_code == 0, resumed.output
    consistent_run(run)
