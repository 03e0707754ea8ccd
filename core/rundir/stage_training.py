"""``zsk train`` of a staged run: every stage in order, features extracted in between.

Each stage trains its validation run first, then itself. Before a feature stage trains, its
source stage's trained discriminator embeds every image of the source's data set twice: with the
source's weights into ``RUN_DIR/<source>/features-<layer>`` (what the feature stage trains on)
and with the source's *validation* run's weights into ``RUN_DIR/<source>/validation/
features-<layer>`` (what the feature stage's validation run trains on), so the classes a
validation run holds out are classes no network upstream of it trained on.

Training continues where it stopped: a run trained to its length is left as it is, one with
checkpoints continues from the newest, and an extraction that was interrupted continues at the
row it reached (:mod:`zsk.core.data.extract`); a finished extraction of the same checkpoint is
kept. Without ``resume``, a staged run with any checkpoint is refused, as a one-stage run is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zsk.core.build.composer import load_data
from zsk.core.data.extract import ExtractionStopped, extract
from zsk.core.rundir.directory import LOCK_FILE, load_run
from zsk.core.rundir.run_features import run_extractor
from zsk.core.rundir.stages import Stage, StagedRun, features_dir
from zsk.core.spec.loading import load_spec_document
from zsk.core.storage.runlock import run_lock
from zsk.core.train.checkpoint import find_latest, step_of
from zsk.core.train.device import resolve_device
from zsk.core.train.distributed import Distributed
from zsk.core.train.loop import Trainer
from zsk.core.train.signals import StopRequest, TrainingInterrupted
from zsk.registry import UserError


@dataclass(frozen=True)
class StageResult:
    """One run of a stage after training: where, at which step, whether this call trained it."""

    run_dir: Path
    step: int
    trained: bool


def train_staged(
    staged: StagedRun,
    *,
    device: str,
    resume: bool,
    layout: Distributed,
    stop: StopRequest,
    say: Callable[[str], None],
) -> list[StageResult]:
    """Train every stage of ``staged`` in order (see module); each run's result."""
    if layout.world_size > 1:
        raise UserError(
            f"{staged.run_dir} is a staged run, which trains in one process",
            hint="leave out --nproc, or train one stage's folder with it: "
            f"zsk train {staged.stages[0].run_dir} --nproc N",
        )
    _refuse_without_resume(staged, resume)
    results = []
    with run_lock(staged.run_dir, "zsk train"):
        for stage in staged.stages:
            source = staged.source_of(stage)
            if source is not None:
                _extract_features(source, stage, device, say, stop)
            for run_dir in stage.runs():
                results.append(_train_to_end(run_dir, device, layout, stop))
    return results


def _refuse_without_resume(staged: StagedRun, resume: bool) -> None:
    started = [run for stage in staged.stages for run in stage.runs() if find_latest(run)]
    if started and not resume:
        raise UserError(
            f"{staged.run_dir} already has checkpoints (in {started[0]}); training again would "
            "overwrite them",
            hint=f"continue it with `zsk train {staged.run_dir} --resume`, or build a new run "
            "directory (zsk build SPEC --out DIR)",
        )


def _train_to_end(
    run_dir: Path, device: str, layout: Distributed, stop: StopRequest
) -> StageResult:
    """Train ``run_dir`` to its spec's length, continuing from its newest checkpoint."""
    latest = find_latest(run_dir)
    trainer = Trainer(
        load_run(run_dir), run_dir, device=device, resume=latest is not None, layout=layout
    )
    if latest is not None and step_of(latest) >= trainer.total_steps:
        return StageResult(run_dir, step_of(latest), trained=False)
    result = trainer.fit(stop)
    return StageResult(run_dir, result.step, trained=True)


def _extract_features(
    source: Stage, stage: Stage, device: str, say: Callable[[str], None], stop: StopRequest
):
    """The features ``stage`` and its validation run read, from ``source``'s two trained
    discriminators (the source's own and its validation run's); a stop request ends it between
    batches, the rows written kept for ``--resume``."""
    if stage.spec.features_from is None:
        raise RuntimeError(f"stage '{stage.name}' does not read features")
    layer = stage.spec.features_from.layer
    images = load_data(load_spec_document(source.run_dir / LOCK_FILE).spec)
    sources = [source.run_dir]
    if (stage.validation_dir / LOCK_FILE).is_file():
        sources.insert(0, source.validation_dir)
    target = resolve_device(device)
    for trained in sources:
        out = features_dir(trained, layer)
        try:
            result = extract(
                images,
                out,
                run_extractor(trained, layer, target),
                source_format=f"zsk stage '{source.name}'",
                progress=sys.stderr.isatty(),
                force=True,
                should_stop=lambda: stop.requested,
            )
        except ExtractionStopped as stopped:
            name = stop.signal.name if stop.signal is not None else "a stop request"
            kept = f"{stopped.done} of {stopped.count} features kept in"
            raise TrainingInterrupted(name, out, stop.exit_code or 143, kept) from None
        if not result.already_complete:
            say(f"stage '{stage.name}': {result.count} {layer} features of {trained} -> {out}")
