"""A build killed between two of its final renames is completed by the next command: a real
``zsk build`` process ends (``os._exit``) right after its Nth rename of a lock file, weights or
``stages.lock.yaml``, which leaves the run mixed; the next ``zsk train`` says in one line that it
completed the write, and the run is then byte for byte what an uninterrupted build writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tiny_components
from tests.core.cli.faults import build_files, own_data, tiny_spec, zsk

ROOT = Path(tiny_components.__file__).parents[1]
#: ``zsk build ARGS`` with the tiny components, ended (exit 9) after its Nth rename of a file
#: a build writes (the journal's own writes are other names)
KILLED_BUILD = """
import os, sys
after = int(sys.argv[1])
real, done = os.replace, []
def replace(source, target, *args, **kwargs):
    real(source, target, *args, **kwargs)
    if os.path.basename(target) in ("spec.lock.yaml", "init.safetensors", "stages.lock.yaml"):
        done.append(target)
        if len(done) == after:
            os._exit(9)
os.replace = replace
from tests import tiny_components
tiny_components.register()
from zsk.core.cli.main import cli
cli(["build", *sys.argv[2:]], prog_name="zsk")
"""
COMPLETED = "completed an interrupted write of"


def _built(spec: Path, run: Path, *overrides: str) -> dict[str, bytes]:
    """``zsk build SPEC --out RUN OVERRIDES``: the files it wrote."""
    built = zsk("build", spec, "--out", run, *overrides)
    assert built.exit_code == 0, built.output
    return build_files(run)


def _killed_build(after: int, *args: object, cwd: Path) -> None:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, str(after), *map(str, args)],
        cwd=cwd,
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 9, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("rebuild", "after"),
    [(True, 1), (True, 2), (False, 3)],
    ids=["rebuild-after-1-of-4", "rebuild-after-2-of-4", "first-build-after-3-of-4"],
)
def test_a_killed_build_is_completed_by_the_next_command(
    tiny_parts, tmp_path, consistent_run, rebuild, after
):
    spec, run = tiny_spec(tmp_path, tiny_parts, steps=2), tmp_path / "run"
    reseeded = ("--set", "train.seed=5")
    new = _built(spec, run, *reseeded)  # what the killed build would have written
    if rebuild:
        old = _built(spec, run)
        assert sorted(old) == sorted(new) and all(old[name] != new[name] for name in new)
    else:
        shutil.rmtree(run)

    _killed_build(after, spec, "--out", run, *reseeded, cwd=tmp_path)
    mixed = build_files(run)
    assert sum(mixed.get(name) == new[name] for name in new) == after  # neither old nor new
    assert list(run.glob(".zsk-commit-*")) != []  # the journal of what is left to do

    trained = zsk("train", run, "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    assert trained.output.count(COMPLETED) == 1, trained.output
    assert build_files(run) == new
    consistent_run(run)


def test_a_staged_build_killed_after_its_stages_lock_is_completed_by_the_next_command(
    tmp_path, monkeypatch, consistent_run
):
    monkeypatch.chdir(tmp_path)
    classes = ["c0", "c1", "c2"]
    values = {"c0": "0.1", "c1": "0.5", "c2": "0.9"}
    data = own_data(tmp_path / "data", classes, classes[:2], values, images_per_class=4)
    spec, run = tmp_path / "two.yaml", tmp_path / "run"
    made = zsk("init", data, "--out", spec, "--route", "two-stage", "--cpu-minutes", "0.05")
    assert made.exit_code == 0, made.output
    tiny = ("--set", "stages.features.train.steps=2")
    new = _built(spec, run, *tiny, "--set", "stages.recogniser.train.seed=5")
    old = _built(spec, run, *tiny)

    _killed_build(
        1, spec, "--out", run, *tiny, "--set", "stages.recogniser.train.seed=5", cwd=tmp_path
    )  # stages.lock.yaml only
    mixed = build_files(run)
    assert [name for name in new if mixed[name] == new[name] != old[name]] == ["stages.lock.yaml"]
    with pytest.raises(AssertionError):
        consistent_run(run)  # its recogniser is not the one stages.lock.yaml names

    trained = zsk("train", run, "--device", "cpu")
    assert trained.exit_code == 0, trained.output
    assert trained.output.count(COMPLETED) == 1, trained.output
    assert build_files(run) == new
    consistent_run(run)
