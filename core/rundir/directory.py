"""Run directories: what ``zsk build`` writes and what ``zsk train`` and ``zsk eval`` read.

A run directory holds ``spec.lock.yaml`` (the fully resolved spec plus a ``lock:`` section with
the zsk and torch versions, each component's plugin, distribution and version, and the data
set's fingerprint) and ``init.safetensors`` (the seeded initial weights). Both are written
deterministically, so the same spec and seed give byte-identical files; the weights' metadata
names the digest of the resolved spec they were built from, so an edited lock file is noticed.
``runs/.latest`` (under the current directory) names the latest build, for commands given no
run directory.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from zsk.core.build.composer import Build, compose, load_data
from zsk.core.build.model import Objective
from zsk.core.spec.loading import SpecDocument, load_spec_document
from zsk.core.spec.sections import Spec, SpecError
from zsk.core.storage.commit import interrupted_journals
from zsk.core.storage.files import explained, write_file, writing_together
from zsk.core.storage.runlock import run_lock
from zsk.core.train.checkpoint import CHECKPOINT_DIR
from zsk.core.train.state import prefixed
from zsk.registry import UserError
from zsk.registry.manager import zsk_version

RUNS = Path("runs")
LATEST = RUNS / ".latest"
LOCK_FILE = "spec.lock.yaml"
INIT_FILE = "init.safetensors"
#: what marks a staged run's directory (:mod:`zsk.core.rundir.stages`): its stages are runs below
STAGES_FILE = "stages.lock.yaml"

T = TypeVar("T")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PlannedRun:
    """A run directory's files, composed and checked but not yet written."""

    run_dir: Path
    build: Build
    lock: str

    @property
    def spec(self) -> Spec:
        return self.build.spec


def plan_run(spec_path: Path, overrides: Sequence[str] = (), out: Path | None = None) -> PlannedRun:
    """Validate, compose and check ``spec_path`` for ``out`` (default ``runs/<spec name>``);
    nothing is written."""
    document = load_spec_document(Path(spec_path), overrides)
    spec = document.spec
    run_dir = Path(out) if out is not None else RUNS / spec.name
    data = located_in(document, lambda: load_data(spec))
    build = located_in(document, lambda: compose(spec, data))
    lock = lock_section(build, source=str(spec_path), overrides=overrides)
    return PlannedRun(run_dir, build, lock_text(build, lock))


def write_runs(
    planned: Sequence[PlannedRun],
    *,
    retired: Sequence[Path] = (),
    beside: Mapping[Path, str] | None = None,
) -> None:
    """Write every planned run's lock file and initial weights, all or none: each file is written
    and flushed under a temporary name first, then all are renamed into place as one step (a
    build killed between two renames is completed by the next command). ``retired`` run
    directories lose their lock file and weights (an old validation run the new spec has not);
    ``beside`` are further text files written with them (a staged run's stages.lock.yaml)."""
    with writing_together() as staging:
        for path, text in (beside or {}).items():
            with staging.file(path) as temporary:
                temporary.write_text(text, encoding="utf-8")
        for plan in planned:
            with staging.file(plan.run_dir / INIT_FILE) as temporary:
                save_initial_weights(plan.build, temporary)
            with staging.file(plan.run_dir / LOCK_FILE) as temporary:
                temporary.write_text(plan.lock, encoding="utf-8")
        for folder in retired:
            for name in (LOCK_FILE, INIT_FILE):
                staging.remove(folder / name)


def write_run(run_dir: Path, build: Build, *, source: str, overrides: Sequence[str]) -> None:
    """Write one run directory's lock file and initial weights (the caller holds its lock)."""
    lock = lock_section(build, source=source, overrides=overrides)
    write_runs([PlannedRun(run_dir, build, lock_text(build, lock))])


def resolve_run_dir(run_dir: Path | None) -> Path:
    """``run_dir`` checked to be a run directory; None means the latest build (runs/.latest).
    A build of it killed between two renames is completed first."""
    if run_dir is None:
        run_dir = _latest_run()
        complete_interrupted_build(run_dir)
        if not is_run_dir(run_dir):
            raise UserError(
                f"the latest build, {run_dir} (from {LATEST}), is gone",
                hint="build again with zsk build SPEC, or name a run directory",
            )
        return run_dir
    run_dir = Path(run_dir)
    complete_interrupted_build(run_dir)
    if not is_run_dir(run_dir):
        raise UserError(
            f"{run_dir} is not a run directory: it has no {LOCK_FILE} (nor {STAGES_FILE})",
            hint="give a directory written by zsk build (e.g. runs/shapes)",
        )
    return run_dir


def _latest_run() -> Path:
    """The run directory ``runs/.latest`` names."""
    if not LATEST.is_file():
        raise UserError(
            f"no build recorded in {LATEST} (relative to {Path.cwd()})",
            hint="build one first: zsk build examples/shapes.yaml, or name a run directory",
        )
    try:
        return Path(LATEST.read_text(encoding="utf-8").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(
            f"{LATEST} (relative to {Path.cwd()}) is not UTF-8 text naming a run: {exc}",
            hint="delete it and build again (zsk build SPEC), or name a run directory",
        ) from None


def complete_interrupted_build(run_dir: Path) -> None:
    """Put in place what a build of ``run_dir`` killed between two renames had begun to (taking
    the run's lock does it), so that a command reading the run reads it whole."""
    if interrupted_journals(run_dir):
        with run_lock(run_dir, "zsk (completing an interrupted build)"):
            pass


def is_run_dir(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a build: one run, or a staged run's stages."""
    return (run_dir / LOCK_FILE).is_file() or is_staged(run_dir)


def is_staged(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a staged run (a folder per stage, each a run)."""
    return (Path(run_dir) / STAGES_FILE).is_file()


def load_run(run_dir: Path, *, say: Callable[[str], None] = _say) -> Build:
    """The build of ``run_dir``: its lock file's spec, its data, its initial weights. A lock
    file that is not the one the weights were written with (edited since) is announced."""
    run_dir = resolve_run_dir(run_dir)
    if is_staged(run_dir):
        stages = sorted(p.parent.name for p in run_dir.glob(f"*/{LOCK_FILE}"))
        raise UserError(
            f"{run_dir} is a staged run; this command reads one run, and each stage is one: "
            + ", ".join(str(run_dir / name) for name in stages),
            hint=f"name a stage's folder, e.g. {run_dir / stages[0]}" if stages else None,
        )
    lock_file = run_dir / LOCK_FILE
    document = load_spec_document(lock_file)
    spec = document.spec
    written_with = weights_spec_digest(run_dir / INIT_FILE)
    if written_with is not None and spec_digest(spec) != written_with:
        say(
            f"note: {lock_file} is not the spec {INIT_FILE} was built from (edited since zsk "
            f"build, or a build was interrupted); using it as it is now. To start over from "
            f"it: zsk build {lock_file} --out {run_dir} --force"
        )
    data = located_in(document, lambda: load_data(spec))
    built_with = (document.lock or {}).get("data_fingerprint")
    if built_with is not None and data.fingerprint() != built_with:
        raise UserError(
            f"the data set at {data.root} changed since {run_dir} was built (class names, "
            f"attributes or split: fingerprint {data.fingerprint()}, built with {built_with})",
            hint="restore the data set as it was, or build a new run with zsk build SPEC",
        )
    # composed once, without a second dry pass: `zsk build` checked this spec's wiring, and
    # init.safetensors is checked against the networks below
    build = located_in(document, lambda: compose(spec, data, dry=False))
    load_initial_weights(build, run_dir / INIT_FILE)
    return build


def lock_section(
    build: Build, *, source: str = "", overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """What the build resolved beyond the spec: versions, provenance, data fingerprint."""
    return {
        "spec_file": source,
        "overrides": list(overrides),
        "zsk_version": zsk_version(),
        "torch_version": str(torch.__version__),
        "data_fingerprint": build.data.fingerprint(),
        "dims": {name: getattr(build.dims, name) for name in build.dims.__dataclass_fields__},
        "components": build.provenance,
    }


def lock_text(build: Build, lock: dict[str, Any]) -> str:
    """The lock file: the fully resolved spec (every default filled) and its ``lock:`` section."""
    header = (
        "# Written by `zsk build`: the fully resolved spec and what it was built with.\n"
        "# It is a spec too: `zsk build THIS_FILE` rebuilds the same run.\n"
    )
    body = {**build.spec.model_dump(mode="json"), "lock": lock}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _state(build: Build) -> dict[str, torch.Tensor]:
    """The build's tensors by stable name: the GAN's state and any loss term's state."""
    state = dict(build.gan.state_dict())
    for prefix, loss in build.objective.named_losses():
        state.update({f"{prefix}.{name}": value for name, value in loss.state_dict().items()})
    return state


def spec_digest(spec: Spec) -> str:
    """The sha256 of the resolved spec's content (not its file's layout, comments or paths)."""
    text = json.dumps(spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_initial_weights(build: Build, path: Path) -> None:
    """``init.safetensors`` at ``path``: every tensor copied out (no shared storage), one metadata
    entry (safetensors writes several in no fixed order) naming the digest of the spec it was
    built from, so the bytes depend on the weights and the resolved spec only."""
    tensors = {
        name: value.detach().cpu().clone().contiguous() for name, value in _state(build).items()
    }
    info = {"spec": build.spec.name, "format": "zsk-init-1", "spec_sha256": spec_digest(build.spec)}
    save_file(tensors, str(path), metadata={"zsk": json.dumps(info)})


def weights_spec_digest(path: Path) -> str | None:
    """The digest of the spec ``init.safetensors`` at ``path`` was built from (None for a file
    written before zsk kept it, or one that is unreadable)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            info = json.loads((handle.metadata() or {}).get("zsk", "{}"))
    except (SafetensorError, OSError, ValueError):
        return None
    digest = info.get("spec_sha256") if isinstance(info, dict) else None
    return digest if isinstance(digest, str) else None


def load_initial_weights(build: Build, path: Path) -> None:
    """Load ``init.safetensors`` into ``build``; a file that does not fit is a user error."""
    try:
        tensors = load_file(str(path))
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise UserError(
            f"cannot read the initial weights {path}: {exc}",
            hint="rebuild the run: zsk build SPEC --out RUN_DIR",
        ) from None
    expected = _state(build)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in expected if k in tensors and tensors[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        raise UserError(
            f"{path} does not fit the networks its lock file builds ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong)} of another shape; e.g. {first})",
            hint="a component changed since the build; rebuild with zsk build SPEC",
        )
    build.gan.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("objective.")})
    _load_loss_states(build.objective, tensors)


def _load_loss_states(objective: Objective, tensors: dict[str, torch.Tensor]) -> None:
    for prefix, loss in objective.named_losses():
        own = prefixed(tensors, prefix)
        if own:
            loss.load_state_dict(own)


def located_in(document: SpecDocument, action: Callable[[], T]) -> T:
    """``action()``, its spec problems located in ``document``'s file."""
    try:
        return action()
    except SpecError as exc:
        raise exc.located(document.locate) from exc


def _in_the_way(run_dir: Path, staged: bool) -> str | None:
    """What a build of this kind (staged or not) in ``run_dir`` would destroy, if anything:
    trained weights (of the run, a stage or a validation run), or a build of the other kind."""
    other = is_staged(run_dir) if not staged else (run_dir / LOCK_FILE).is_file()
    if other:
        return f"holds a {'staged' if not staged else 'one-stage'} run"
    folders = [run_dir / CHECKPOINT_DIR, *sorted(run_dir.glob(f"*/{CHECKPOINT_DIR}"))]
    if staged:
        folders += sorted(run_dir.glob(f"*/*/{CHECKPOINT_DIR}"))
    for folder in folders:
        if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            return f"already holds training checkpoints ({folder})"
    return None


def refuse_in_the_way(run_dir: Path, force: bool, *, staged: bool) -> None:
    """Refuse to build over trained weights or another kind of build, unless ``force``."""
    reason = _in_the_way(run_dir, staged)
    if reason is not None and not force:
        raise UserError(
            f"{run_dir} {reason}",
            hint=f"pass --force to move that run aside to {run_dir}.old-<time> and build "
            "afresh, or --out DIR to build elsewhere",
        )


def move_aside_in_the_way(
    run_dir: Path, *, staged: bool, on_moved_aside: Callable[[Path, Path], None] | None
) -> None:
    """Move the run in ``run_dir`` aside when a build would destroy it (see
    :func:`refuse_in_the_way`), telling ``on_moved_aside(old, new)``."""
    if _in_the_way(run_dir, staged) is None:
        return
    with run_lock(run_dir, "zsk build --force"):  # never move a run that is training
        moved = _move_aside(run_dir)
    if on_moved_aside is not None:
        on_moved_aside(run_dir, moved)


def _move_aside(run_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = run_dir.with_name(f"{run_dir.name}.old-{stamp}")
    suffix = 1
    while target.exists():
        target = run_dir.with_name(f"{run_dir.name}.old-{stamp}-{suffix}")
        suffix += 1
    with explained(run_dir, "moving the old run aside"):
        run_dir.rename(target)
    return target


def record_latest_run(run_dir: Path) -> None:
    """Write ``runs/.latest``: the run directory, relative to here when it is below here."""
    resolved = run_dir.resolve()
    try:
        shown = resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        shown = resolved
    write_file(LATEST, f"{shown}\n")
