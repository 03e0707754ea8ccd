"""Fixtures every test folder shares."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.registry import hookimpl, manager


def _helper_modules() -> list[str]:
    """The modules beside the tests that are neither tests nor conftests (tiny components,
    fault helpers, ...), by import name."""
    root = Path(__file__).parent
    return [
        ".".join((root.name, *path.relative_to(root).with_suffix("").parts))
        for path in sorted(root.rglob("*.py"))
        if not path.name.startswith("test_") and path.name not in ("conftest.py", "__init__.py")
    ]


# pytest rewrites the asserts of test modules and conftests only; the helpers' asserts are
# rewritten too, so that they check under python -O (PYTHONOPTIMIZE) as well
pytest.register_assert_rewrite(*_helper_modules())


@pytest.fixture(scope="session")
def tiny_shapes() -> tuple[str, ...]:
    """``--set`` overrides that shrink examples/shapes.yaml to 16-pixel images and a few
    channels, so a test builds and trains it in seconds (without the validation run that the
    spec asks for)."""
    return (
        "model.image_size=16",
        "model.embedding_dim=8",
        "model.trunk.params.channels=[8,16]",
        "model.generator.params.base_channels=8",
        "model.generator.params.max_channels=16",
        "model.heads.reconstruction_feature.params.channels=8",
        "train.batch_size=8",
        "validation_run=null",
    )


def _run_zsk(*args: object, code: int = 0, says: tuple[str, ...] | list[str] = ()):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    if code == 2:  # a user's mistake: a message, no traceback
        assert "Traceback" not in result.output, result.output
    for text in says:
        assert text in result.output, result.output
    return result


@pytest.fixture(scope="session")
def run_zsk():
    """``run_zsk(*args, code=0, says=())``: ``zsk ARGS`` in this process. Asserts the exit code
    (no traceback with 2, a user's mistake) and that the output holds each text of ``says``;
    returns click's result. An exception the CLI does not handle propagates."""
    return _run_zsk


@pytest.fixture(scope="session")
def tiny_synth() -> tuple[str, ...]:
    """``zsk data synth`` options for a data set of 4 images per class, 16-24 pixels wide."""
    return ("--images-per-class", "4", "--min-size", "16", "--max-size", "24")


@pytest.fixture
def add_components():
    """``add_components(*classes, name=...)``: register a plugin named ``name`` that registers
    these component classes, as an installed plugin would; it is unregistered after the test."""
    names: list[str] = []

    def add(*classes: type, name: str) -> None:
        @hookimpl
        def zsk_register_components(register):
            for cls in classes:
                register(cls)

        manager.register_plugin(
            SimpleNamespace(zsk_register_components=zsk_register_components), name
        )
        names.append(name)

    yield add
    for name in names:
        manager.unregister_plugin(name)


def check_consistent_run(run_dir) -> None:
    """A run directory describes one state: no temporary file or unfinished commit anywhere in
    it, every lock released, each run's (and its validation run's) weights built from its lock
    file's spec, every checkpoint's weights readable and matching their sidecar; a staged run's
    stage lock files hold the stages of its ``stages.lock.yaml``."""
    from pathlib import Path

    from zsk.core.rundir.directory import is_staged
    from zsk.core.rundir.stages import read_staged
    from zsk.core.storage.runlock import LOCK_FILE as RUN_LOCK

    run_dir = Path(run_dir)
    assert [str(p) for p in run_dir.rglob("*.tmp-*")] == []
    assert [str(p) for p in run_dir.rglob(".zsk-commit-*")] == []
    assert [str(p) for p in run_dir.rglob(RUN_LOCK) if p.read_text().strip()] == []
    folders = [run_dir, run_dir / "validation"]
    if is_staged(run_dir):
        staged = read_staged(run_dir)
        for stage in staged.stages:
            folders += [stage.run_dir, stage.validation_dir]
            _check_stage_locks(staged.spec, stage)
    for folder in folders:
        _check_run(folder)


def _check_run(folder) -> None:
    """``folder``'s weights were built from its lock file; its checkpoints are whole."""
    from zsk.core.rundir.directory import INIT_FILE, LOCK_FILE, spec_digest, weights_spec_digest
    from zsk.core.spec.loading import load_spec
    from zsk.core.train.checkpoint import list_checkpoints, read_checkpoint

    if not (folder / LOCK_FILE).is_file():
        assert not (folder / INIT_FILE).exists(), f"{folder}: weights without a lock file"
        return
    written_with = weights_spec_digest(folder / INIT_FILE)
    assert written_with == spec_digest(load_spec(folder / LOCK_FILE)), folder
    for weights in list_checkpoints(folder):
        read_checkpoint(weights)


def _check_stage_locks(staged_spec, stage) -> None:
    """The stage's lock file (and its validation run's) is its body in ``stages.lock.yaml``."""
    from zsk.core.rundir.directory import LOCK_FILE, spec_digest
    from zsk.core.spec.loading import load_spec

    lock = load_spec(stage.run_dir / LOCK_FILE)
    expected = staged_spec.stage_spec(stage.name, lock.data)
    assert spec_digest(lock) == spec_digest(expected), stage.run_dir
    if (stage.validation_dir / LOCK_FILE).is_file():
        held_out = load_spec(stage.validation_dir / LOCK_FILE)
        expected = staged_spec.stage_spec(stage.name, held_out.data)
        expected = expected.model_copy(
            update={"holdout": expected.validation_run, "validation_run": None}
        )
        assert spec_digest(held_out) == spec_digest(expected), stage.validation_dir


@pytest.fixture(scope="session")
def consistent_run():
    """``consistent_run(RUN_DIR)``: assert that the run directory describes one state (see
    :func:`check_consistent_run`); every fault test calls it after the fault."""
    return check_consistent_run


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(kib)``: a real tmpfs of ``kib`` KiB mounted in ``tmp_path`` (a full disk that
    is not simulated); skipped where this process may not mount one (not root, no tmpfs)."""
    import subprocess

    mounted = []

    def mount(kib: int):
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or 'not root'}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)
