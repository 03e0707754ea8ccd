"""The validation run that a spec's ``validation_run`` section builds and trains beside a run.

GZSL's calibration constant must be chosen on classes the networks never trained on (the
field's protocol). A spec with a ``validation_run`` section makes that the default path:
``zsk build`` also builds ``RUN_DIR/validation`` (the same spec, its ``holdout`` set to the
section), ``zsk train`` trains it first, and ``zsk eval`` calibrates on it with no flag.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from zsk.core.rundir.directory import LOCK_FILE, PlannedRun, plan_run
from zsk.core.train.checkpoint import find_latest
from zsk.registry import UserError

VALIDATION_DIR = "validation"


def validation_dir(run_dir: Path) -> Path:
    return Path(run_dir) / VALIDATION_DIR


def plan_validation_run(
    spec_path: Path, overrides: Sequence[str], main: PlannedRun
) -> PlannedRun | None:
    """``RUN_DIR/validation`` planned when ``main``'s spec asks for one, else None.

    A spec with a ``holdout`` section is itself a validation run, and gets none.
    """
    spec = main.spec
    if spec.validation_run is None or spec.holdout is not None:
        return None
    holdout = json.dumps(spec.validation_run.model_dump(mode="json"))
    extra = (f"holdout={holdout}", "validation_run=null")
    try:
        return plan_run(spec_path, (*overrides, *extra), validation_dir(main.run_dir))
    except UserError as exc:
        raise UserError(
            f"the spec's validation_run section cannot be built: {exc.render()}",
            hint="change validation_run's settings, or remove the section (GZSL is then "
            "self-calibrated, which zsk eval marks)",
        ) from exc


def companion(run_dir: Path) -> Path | None:
    """``RUN_DIR/validation`` when it was built, else None."""
    folder = validation_dir(run_dir)
    return folder if (folder / LOCK_FILE).is_file() else None


def trained_companion(run_dir: Path) -> Path | None:
    """``RUN_DIR/validation`` when it was built and trained; refused when built but untrained."""
    folder = companion(run_dir)
    if folder is None:
        return None
    if find_latest(folder) is None:
        raise UserError(
            f"{run_dir}'s validation run {folder} is not trained, so GZSL cannot be calibrated",
            hint=f"train both with: zsk train {run_dir}",
        )
    return folder
