"""``zsk build``'s writing of a one-stage spec: a run directory and its validation run as one unit.

Both are composed and checked before anything is written. Then the run's lock and its validation
run's lock are taken (a trainer of either refuses the build); a run with checkpoints in either
is refused or, with ``force``, moved aside whole; and the lock files and initial weights of both
are written all new or all old (:func:`~zsk.core.rundir.directory.write_runs`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from zsk.core.build.composer import Build
from zsk.core.rundir.directory import (
    PlannedRun,
    move_aside_in_the_way,
    plan_run,
    record_latest_run,
    refuse_in_the_way,
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
    """Validate, build and check ``spec_path`` and its validation run; write the run directory
    (``RUN_DIR/validation`` inside it) and record it as latest unless ``record_latest`` is False.

    Refuses a run directory whose run or validation run holds training checkpoints unless
    ``force``, which moves the old run aside to ``<dir>.old-<timestamp>`` and tells
    ``on_moved_aside(old, new)``.
    """
    main = plan_run(spec_path, overrides, out)
    validation = plan_validation_run(spec_path, overrides, main)
    run_dir = main.run_dir
    with locked_runs(_folders(main, validation)):
        refuse_in_the_way(run_dir, force, staged=False)
    move_aside_in_the_way(run_dir, staged=False, on_moved_aside=on_moved_aside)
    with locked_runs(_folders(main, validation)):
        stale = validation_dir(run_dir)
        retired = [stale] if validation is None and stale.is_dir() else []
        write_runs([p for p in (validation, main) if p is not None], retired=retired)
    if record_latest:
        record_latest_run(run_dir)
    return run_dir, main.build


def _folders(main: PlannedRun, validation: PlannedRun | None) -> list[Path]:
    """The run directory and, when it is planned or already there, its validation run."""
    stale = validation_dir(main.run_dir)
    return [main.run_dir] + ([stale] if validation is not None or stale.is_dir() else [])


@contextlib.contextmanager
def locked_runs(folders: list[Path]) -> Iterator[None]:
    """Hold the build lock of every one of ``folders`` (a run and its validation run, or every
    run of a staged run)."""
    with contextlib.ExitStack() as locks:
        for folder in folders:
            locks.enter_context(run_lock(folder, "zsk build"))
        yield
