"""``RUN_DIR/report.md``: loss curves, imagined images per seen and unseen class, evaluation.

Pictures go to ``RUN_DIR/report/`` and are linked by relative paths, so the run directory can
be moved or published as it is. The evaluation table comes from ``eval.json`` when it describes
the newest checkpoint, and is computed (and eval.json rewritten) otherwise; a damaged eval.json
is refused (exit 2) with the fix, never silently replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from zsk.core.evaluate.evaluator import evaluate
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.pictures import generate_images, save_grid
from zsk.core.evaluate.plot import plot_series, read_metrics, split_losses
from zsk.core.evaluate.result import read_eval, write_eval
from zsk.core.evaluate.summary import markdown_table
from zsk.core.evaluate.trained import TrainedRun
from zsk.core.storage.files import write_file

REPORT_FILE = "report.md"
REPORT_DIR = "report"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
IMAGES_PER_CLASS = 4


def _class_grid(trained: TrainedRun, classes: list[int], name: str, device: torch.device) -> str:
    data = trained.build.data
    images = generate_images(
        trained.build.gan, data, data.attributes[classes].float(), IMAGES_PER_CLASS, 0, device
    )
    relative = f"{REPORT_DIR}/{name}"
    save_grid(
        images, IMAGES_PER_CLASS, trained.run_dir / relative, [data.classes[c] for c in classes]
    )
    return relative


def _latest_training_sample(run_dir: Path) -> str | None:
    grids = sorted((run_dir / SAMPLES_DIR).glob("*.png"), key=lambda p: (p.stat().st_mtime, p.name))
    return f"{SAMPLES_DIR}/{grids[-1].name}" if grids else None


def _overview(trained: TrainedRun) -> list[str]:
    spec, data = trained.build.spec, trained.build.data
    heads = ", ".join(f"{role}: {ref.type}" for role, ref in spec.model.heads.items())
    samples = (
        f"{data.feature_dim}-d feature vectors"
        if data.is_features
        else f"image size {spec.model.image_size}"
    )
    return [
        f"- run directory: `{trained.run_dir}`",
        f"- checkpoint: `{trained.checkpoint.name}` (step {trained.step})",
        f"- data: `{data.root}` — {len(data.seen)} seen and {len(data.unseen)} unseen classes, "
        f"{data.num_attributes} predicates",
        f"- generator `{spec.model.generator.type}`, trunk `{spec.model.trunk.type}`, "
        f"heads ({heads}), semantic encoder `{spec.model.semantic_encoder.type}`",
        f"- {samples}, embedding {spec.model.embedding_dim}",
    ]


FEATURE_RUN_NOTE = (
    "This run learns feature vectors, not images: there are no pictures to show. Its "
    "generated features are judged by the generative route's numbers below."
)


def write_report(
    trained: TrainedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write the report and its pictures; return the path of report.md."""
    run_dir, data = trained.run_dir, trained.build.data
    result = read_eval(run_dir)  # a damaged eval.json is refused before any work
    lines = [f"# zsk report: {trained.build.spec.name}", "", *_overview(trained), ""]

    lines += ["## Loss curves", ""]
    losses, others = split_losses(read_metrics(run_dir / METRICS_FILE))
    for title, series, name in (
        ("loss terms", losses, "losses.png"),
        ("other training signals", others, "training.png"),
    ):
        if series:
            plot_series(series, run_dir / REPORT_DIR / name)
            lines += [f"![{title}]({REPORT_DIR}/{name})", ""]
    if losses or others:
        lines.append("Light: every logged value; dark: a moving average.")
    else:
        lines.append(f"No `{METRICS_FILE}` yet: nothing was logged.")

    if data.is_features:
        lines += ["", "## Imagined samples", "", FEATURE_RUN_NOTE]
    else:
        lines += _picture_sections(trained, device, log)

    if result is None or result.step != trained.step:
        log("eval.json is missing or older than the checkpoint: evaluating")
        result = evaluate(trained, options, device, log)
        write_eval(run_dir, result)
    lines += [
        "",
        f"## Evaluation (step {result.step})",
        "",
        markdown_table(result),
        "",
        "Accuracies are per-class averages. GZSL's calibration constants were chosen on "
        "validation images, never on test images (the rows above name where). "
        "Full numbers: `eval.json`.",
        "",
    ]
    path = run_dir / REPORT_FILE
    return write_file(path, "\n".join(lines))


def _picture_sections(
    trained: TrainedRun, device: torch.device, log: Callable[[str], None]
) -> list[str]:
    """The imagined-image grids per seen and unseen class, and the latest training sample."""
    run_dir, data = trained.run_dir, trained.build.data
    log("drawing imagined images per class")
    seen_grid = _class_grid(trained, data.seen, "samples-seen.png", device)
    unseen_grid = _class_grid(trained, data.unseen, "samples-unseen.png", device)
    lines = [
        "",
        f"## Imagined images, {IMAGES_PER_CLASS} per class (step {trained.step})",
        "",
        "### Seen classes",
        "",
        f"![seen classes]({seen_grid})",
        "",
        "### Unseen classes (no training image)",
        "",
        f"![unseen classes]({unseen_grid})",
    ]
    sample = _latest_training_sample(run_dir)
    if sample:
        lines += ["", "### Latest sample grid written during training", "", f"![samples]({sample})"]
    return lines
