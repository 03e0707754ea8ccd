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

import pytest
import torch

from tests.core.cli.faults import (
    TINY_CLI,
    build_files,
    refused,
    start_training,
    tiny_spec,
    zsk,
)
from zsk.core.storage.runlock import run_lock
from zsk.core.train.checkpoint import find_latest, step_of


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
    assert zsk("build", tiny_spec(tmp_path, tiny_parts), "--out", run).exit_code == 0
    consistent_run(run)
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("spec.lock.yaml", "init.safetensors"):
        for folder in (run, run / "validation"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o666 & ~umask, folder / name


def test_build_is_refused_while_the_validation_run_trains_and_changes_nothing(
    tiny_parts, tmp_path, consistent_run
):
    spec, run = tiny_spec(tmp_path, tiny_parts, steps=100000), tmp_path / "run"
    assert zsk("build", spec, "--out", run).exit_code == 0
    before = build_files(run)
    trainer = start_training(run)
    try:
        _wait_for(run / "validation" / "metrics.jsonl", trainer)
        assert not (run / "metrics.jsonl").exists()  # still in the validation phase
        rebuilt = zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
        refused(rebuilt, "is in use by `zsk train`", f"pid {trainer.pid}")
    finally:
        trainer.send_signal(signal.SIGTERM)
        trainer.communicate(timeout=120)
    assert build_files(run) == before
    consistent_run(run)
    # a killed validation phase leaves checkpoints in RUN/validation only: refused, then --force
    # moves the whole run aside
    again = zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
    refused(again, "already holds training checkpoints", "validation/checkpoints", "--force")
    assert build_files(run) == before
    forced = zsk("build", spec, "--out", run, "--set", "model.noise_dim=5", "--force")
    assert forced.exit_code == 0, forced.output
    assert "moved the previous run" in forced.output
    assert not (run / "validation" / "checkpoints").exists()
    consistent_run(run)


def test_a_lock_on_the_validation_run_alone_refuses_the_build(tiny_parts, tmp_path, consistent_run):
    spec, run = tiny_spec(tmp_path, tiny_parts), tmp_path / "run"
    assert zsk("build", spec, "--out", run).exit_code == 0
    before = build_files(run)
    with run_lock(run / "validation", "zsk train"):
        rebuilt = zsk("build", spec, "--out", run, "--set", "model.noise_dim=5")
    refused(rebuilt, f"{run / 'validation'} is in use by `zsk train`")
    assert build_files(run) == before
    consistent_run(run)


def test_a_rebuild_without_a_validation_run_retires_the_old_one(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    assert zsk("build", tiny_spec(tmp_path, tiny_parts), "--out", run).exit_code == 0
    plain = tiny_spec(tmp_path / "plain", tiny_parts, validation=False)
    assert zsk("build", plain, "--out", run).exit_code == 0
    assert not (run / "validation" / "spec.lock.yaml").exists()
    consistent_run(run)


def test_a_full_disk_during_a_rebuild_leaves_the_old_run_whole(
    tiny_parts, tmp_path, small_disk, consistent_run
):
    disk = small_disk(512)
    spec, run = tiny_spec(tmp_path, tiny_parts), disk / "run"
    assert zsk("build", spec, "--out", run).exit_code == 0
    before = build_files(run)
    for spare in (0, 24 * 1024):  # nothing left; room for some of the new files only
        _fill(disk, spare)
        rebuilt = zsk("build", spec, "--out", run, "--set", "train.seed=5")
        refused(rebuilt, "no space left on the device", str(run), "free some space")
        assert build_files(run) == before
        consistent_run(run)
        (disk / "filler").unlink()
    assert zsk("build", spec, "--out", run, "--set", "train.seed=5").exit_code == 0
    assert build_files(run) != before
    consistent_run(run)


def test_an_edited_lock_file_is_announced_when_training(tiny_parts, tmp_path, consistent_run):
    run = tmp_path / "run"
    spec = tiny_spec(tmp_path, tiny_parts, validation=False, steps=2)
    assert zsk("build", spec, "--out", run).exit_code == 0
    lock = run / "spec.lock.yaml"
    lock.write_text(lock.read_text().replace("seed: 3", "seed: 4"))
    trained = zsk("train", run, "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    assert f"{lock} is not the spec init.safetensors was built from" in trained.output
    rebuilt = zsk("build", lock, "--out", run, "--force")
    assert rebuilt.exit_code == 0, rebuilt.output
    consistent_run(run)


# training ----------------------------------------------------------------------------------
def test_a_full_disk_while_checkpointing_exits_2_and_the_run_resumes(
    tiny_parts, tmp_path, small_disk, consistent_run
):
    disk = small_disk(1024)
    run = disk / "run"
    spec = tiny_spec(
        tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=1, sample_every=100
    )
    assert zsk("build", spec, "--out", run).exit_code == 0
    assert zsk("train", run, "--device", "cpu", "--steps", "1").exit_code == 0
    _fill(disk, spare=8192)  # room for the lock and a metrics line, not a checkpoint
    full = zsk("train", run, "--device", "cpu", "--resume")
    refused(full, "no space left on the device", "checkpoints/step-000000002", "free some space")
    consistent_run(run)
    (disk / "filler").unlink()
    resumed = zsk("train", run, "--device", "cpu", "--resume")
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
    spec = tiny_spec(tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=2)
    assert zsk("build", spec, "--out", run).exit_code == 0
    assert zsk("train", run, "--device", "cpu", "--steps", "2").exit_code == 0
    dead = _dead_pid()
    left = [
        run / f".init.tmp-{dead}-0123abcd.safetensors",
        run / "checkpoints" / f".step-000000004.tmp-{dead}-89abcdef.safetensors",
    ]
    alive = run / "checkpoints" / f".step-000000004.tmp-{os.getppid()}-00000000.json"
    for path in (*left, alive):
        path.write_bytes(b"\0" * 1000)
    resumed = zsk("train", run, "--device", "cpu", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [p for p in left if p.exists()] == []
    assert alive.exists()  # its writer is running
    alive.unlink()
    consistent_run(run)


def test_kill_9_while_writing_leaves_nothing_after_the_next_command(
    tiny_parts, tmp_path, consistent_run
):
    run = tmp_path / "run"
    spec = tiny_spec(tmp_path, tiny_parts, validation=False, steps=100000, checkpoint_every=1)
    assert zsk("build", spec, "--out", run).exit_code == 0
    trainer = start_training(run)
    _wait_for(run / "checkpoints", trainer)
    time.sleep(0.5)
    trainer.kill()
    trainer.wait()
    latest = find_latest(run)
    step = step_of(latest) if latest is not None else 0
    resumed = zsk("train", run, "--device", "cpu", "--resume", "--steps", step + 1)
    assert resumed.exit_code == 0, resumed.output
    consistent_run(run)


# what a checkpoint hands back ----------------------------------------------------------------
def _group(meta):
    return meta["optimizers"]["generator"]["param_groups"][0]


def _optimizer(meta):
    return meta["optimizers"]["generator"]


#: (what, change to the sidecar's JSON, words of the refusal)
SIDECAR_DAMAGE = [
    ("betas of strings", lambda m: _group(m).update(betas=["a", "b"]), "setting 'betas'"),
    ("betas too short", lambda m: _group(m).update(betas=[0.5]), "setting 'betas'"),
    ("betas removed", lambda m: _group(m).pop("betas"), "parameter group keys"),
    ("eps null", lambda m: _group(m).update(eps=None), "setting 'eps'"),
    ("amsgrad a number", lambda m: _group(m).update(amsgrad=1), "setting 'amsgrad'"),
    ("lr a string", lambda m: _group(m).update(lr="fast"), "setting 'lr'"),
    (
        "plain state of no parameter",
        lambda m: _optimizer(m).update(plain_state={"x": {"a": 1}}),
        "parameter 'x'",
    ),
    (
        "plain state of text",
        lambda m: _optimizer(m).update(plain_state={"0": {"step": "x"}}),
        "plain_state",
    ),
    ("no parameter groups", lambda m: _optimizer(m).update(param_groups=[]), "0 parameter groups"),
    (
        "parameters reordered",
        lambda m: _group(m).update(params=_group(m)["params"][::-1]),
        "another set of parameters",
    ),
    ("optimisers removed", lambda m: m.pop("optimizers"), "optimizers"),
    ("stream past its epoch", lambda m: m["stream"].update(position=10**9), "data stream"),
    (
        "python RNG cut short",
        lambda m: m["rng"].update(python=[3, [1, 2], None]),
        "rng.python",
    ),
    (
        "numpy RNG keys cut short",
        lambda m: m["rng"]["numpy"].__setitem__(1, [1, 2, 3]),
        "rng.numpy",
    ),
    (
        "numpy RNG keys out of range",
        lambda m: m["rng"]["numpy"].__setitem__(1, [2**40] * 624),
        "random number generator state is damaged",
    ),
    ("scalers a string", lambda m: m.update(scalers="x"), "scalers"),
    ("step negative", lambda m: m.update(step=-1), "step"),
]


def _moment(tensors):
    return next(k for k in tensors if k.startswith("optim.generator.") and "exp_avg" in k)


#: (what, change to the checkpoint's tensors, words of the refusal)
TENSOR_DAMAGE = [
    ("a 0-dim moment", lambda t: t.update({_moment(t): torch.tensor(0.5)}), "has shape ()"),
    (
        "a moment of another rank",
        lambda t: t.update({_moment(t): t[_moment(t)][None]}),
        "has shape",
    ),
    (
        "an integer moment",
        lambda t: t.update({_moment(t): t[_moment(t)].long()}),
        "not floating point",
    ),
    (
        "a step of one element in a list",
        lambda t: t.update({"optim.generator.0.step": torch.tensor([1.0])}),
        "not a single number",
    ),
    (
        "state of a parameter the run lacks",
        lambda t: t.update({"optim.generator.999.exp_avg": torch.zeros(1)}),
        "parameter '999'",
    ),
    ("a moment removed", lambda t: t.pop(_moment(t)), "different state entries"),
]


def _damage(checkpoint: Path, sidecar_change=None, tensor_change=None) -> None:
    """Apply a change to a checkpoint, keeping its recorded size and sha256 true (as a crafted
    file would)."""
    import hashlib
    import json

    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    sidecar = checkpoint.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    if tensor_change is not None:
        tensors = load_tensors(checkpoint.read_bytes())
        tensor_change(tensors)
        payload = save_tensors(tensors, metadata={"format": meta["format"]})
        checkpoint.write_bytes(payload)
        meta["weights"].update(size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    if sidecar_change is not None:
        sidecar_change(meta)
    sidecar.write_text(json.dumps(meta))


@pytest.fixture
def trained_two_steps(tiny_parts, tmp_path):
    run = tmp_path / "run"
    spec = tiny_spec(tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=2)
    assert zsk("build", spec, "--out", run).exit_code == 0
    assert zsk("train", run, "--device", "cpu", "--steps", "2").exit_code == 0
    checkpoint = find_latest(run)
    originals = {p: p.read_bytes() for p in (checkpoint, checkpoint.with_suffix(".json"))}
    return run, checkpoint, originals


def test_every_damaged_optimiser_setting_or_state_is_refused_naming_the_checkpoint(
    trained_two_steps, consistent_run
):
    run, checkpoint, originals = trained_two_steps
    cases = [(what, change, None, words) for what, change, words in SIDECAR_DAMAGE]
    cases += [(what, None, change, words) for what, change, words in TENSOR_DAMAGE[1:]]
    for what, sidecar_change, tensor_change, words in cases:
        _damage(checkpoint, sidecar_change, tensor_change)
        resumed = zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
        assert resumed.exit_code == 2, (what, resumed.output)
        assert "Traceback" not in resumed.output, (what, resumed.output)
        assert words in resumed.output and "step-000000002" in resumed.output, (
            what,
            resumed.output,
        )
        for path, content in originals.items():
            path.write_bytes(content)
    consistent_run(run)
    resumed = zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
    assert resumed.exit_code == 0, resumed.output


def test_a_0_dim_adam_moment_is_refused_not_a_crash(trained_two_steps, consistent_run):
    run, checkpoint, _ = trained_two_steps
    what, change, words = TENSOR_DAMAGE[0]
    _damage(checkpoint, tensor_change=change)
    resumed = subprocess.run(
        [sys.executable, str(TINY_CLI), "train", str(run), "--device", "cpu", "--resume"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert resumed.returncode == 2, (what, resumed.returncode, resumed.stderr)  # 139: SIGSEGV
    assert words in resumed.stderr and "Traceback" not in resumed.stderr, resumed.stderr
    consistent_run(run)


def test_other_optimiser_settings_in_a_checkpoint_are_announced_and_the_spec_kept(
    trained_two_steps, consistent_run
):
    run, checkpoint, _ = trained_two_steps
    _damage(checkpoint, lambda m: _group(m).update(betas=[0.1, 0.2]))
    resumed = zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
    assert resumed.exit_code == 0, resumed.output
    assert "generator optimiser's settings differ from the spec's" in resumed.output
    assert "betas [0.1, 0.2] in the checkpoint" in resumed.output
    assert "resuming with the spec's" in resumed.output
    consistent_run(run)
