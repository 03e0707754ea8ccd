"""``zsk build``'s writing: a run directory and its validation run as one unit.

Both are composed and checked before anything is written; then the run's lock and its
validation run's lock are taken (a trainer of either refuses the build), a run with checkpoints
in either is refused or, with ``force``, moved aside whole, and the lock files and initial
weights of both are written all new or all old (:func:`~zsk.core.rundir.directory.write_runs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from zsk.core.build.composer import Build
from zsk.core.rundir.directory import (
    PlannedRun,
    has_checkpoints,
    move_aside,
    plan_run,
    trained_error,
    write_latest,
    write_runs,
)
from zsk.core.rundir.validation_run import plan_validation_run, validation_dir
from zsk.core.storage.runlock import run_lock


def build_run(
    spec_path: Path,
    overrides: Sequence[str] = (),
    out: Path | None = None,
    force: bool = False,
    *,
    on_moved_aside: Callable[[Path, Path], None] | None = None,
    record_latest: bool = True,
) -> tuple[Path, Build]:
    """Validate, build and check ``spec_path`` (and its validation run); write the run directory
    and record it as latest (unless ``record_latest`` is False).

    Refuses a run directory whose run or validation run holds training checkpoints unless
    ``force``, which moves the old run aside to ``<dir>.old-<timestamp>`` and tells
    ``on_moved_aside(old, new)``.
    """
    main = plan_run(spec_path, overrides, out)
    validation = plan_validation_run(spec_path, overrides, main)
    run_dir = main.run_dir
    moved = None
    with _locked(_folders(main, validation), "zsk build"):
        trained = [f for f in _folders(main, validation) if has_checkpoints(f)]
        if trained and not force:
            raise trained_error(run_dir, trained[0])
        if trained:
            moved = move_aside(run_dir)
    if moved is not None and on_moved_aside is not None:
        on_moved_aside(run_dir, moved)
    with _locked(_folders(main, validation), "zsk build"):
        stale = validation_dir(run_dir)
        retired = [stale] if validation is None and stale.is_dir() else []
        write_runs([p for p in (validation, main) if p is not None], retired=retired)
    if record_latest:
        write_latest(run_dir)
    return run_dir, main.build


def _folders(main: PlannedRun, validation: PlannedRun | None) -> list[Path]:
    """The run directory and, when it is planned or already there, its validation run."""
    stale = validation_dir(main.run_dir)
    return [main.run_dir] + ([stale] if validation is not None or stale.is_dir() else [])


@contextlib.contextmanager
def _locked(folders: list[Path], command: str) -> Iterator[None]:
    with contextlib.ExitStack() as locks:
        for folder in folders:
            locks.enter_context(run_lock(folder, command))
        yield
