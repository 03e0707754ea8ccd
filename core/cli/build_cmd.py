"""``zsk build``: a spec to a checked, reproducible run directory."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from zsk.core.build.composer import Build
from zsk.core.build.dry_pass import DryPassResult, measure
from zsk.core.cli.path_types import ANY_PATH, FOLDER
from zsk.core.spec.sections import PHASES

#: Adam keeps two moments per parameter; with the gradient that is three more copies.
_TRAINING_COPIES = 3


@click.command()
@click.argument("spec", type=ANY_PATH)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a value by its dotted path; VALUE is YAML. Repeatable.",
)
@click.option(
    "--out",
    type=FOLDER,
    help="Run directory (default: runs/<spec name>).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild a run that has checkpoints; the old run is moved to <dir>.old-<time>.",
)
def build(spec: Path, overrides: tuple[str, ...], out: Path | None, force: bool) -> None:
    """Validate SPEC, build and shape-check every network, write the run directory.

    Writes spec.lock.yaml (the resolved spec, versions, provenance, data fingerprint) and
    init.safetensors (the seeded initial weights), and records the run for `zsk train`. A
    staged spec (a stages: section) builds every stage in RUN_DIR/<stage>, each with its
    validation run.

    \b
    Examples:
      zsk build examples/shapes.yaml
      zsk build examples/shapes.yaml --set model.trunk.params.channels=[32,64,128] \\
          --set train.batch_size=32 --out runs/small
      zsk build examples/paper-awa2.yaml --set data.params.root=data/shapes
    """
    from zsk.core.rundir.building import build_run
    from zsk.core.rundir.validation_run import companion
    from zsk.core.spec.loading import StagedDocument, read_spec

    console = Console(highlight=False)

    def moved(old: Path, new: Path) -> None:
        console.print(f"moved the previous run {old} aside to {new}")

    document = read_spec(spec, overrides)
    if isinstance(document, StagedDocument):
        _build_stages(document, overrides, out, force, moved, console)
        return
    run_dir, result = build_run(spec, overrides, out, force, on_moved_aside=moved)
    validation = companion(run_dir)
    cost = measure(result.spec, result.data, result.gan, result.spec.train.batch_size)
    for table in summary_tables(result, cost):
        console.print(table)
    for line in totals(result, cost):
        console.print(line)
    if validation is not None:
        console.print(
            f"wrote its validation run {validation}/ (GZSL's calibration is chosen there; "
            f"zsk train trains it first)"
        )
    console.print(f"wrote {run_dir}/  (next: zsk train {run_dir})")


def _build_stages(document, overrides, out, force, moved, console: Console) -> None:
    """Build every stage of a staged spec; print each stage's tables."""
    from zsk.core.rundir.stages import build_staged

    run_dir, stages = build_staged(document, overrides, out, force, on_moved_aside=moved)
    for built in stages:
        console.rule(f"stage '{built.stage.name}' -> {built.stage.run_dir}/")
        result = built.build
        cost = measure(result.spec, result.data, result.gan, result.spec.train.batch_size)
        for table in summary_tables(result, cost):
            console.print(table)
        for line in totals(result, cost):
            console.print(line)
        source = built.stage.spec.features_from
        if source is not None:
            console.print(
                f"reads the {source.layer} features of stage '{source.stage}', which zsk train "
                "extracts when that stage has trained"
            )
        if built.validation is not None:
            console.print(f"its validation run: {built.validation}/")
    names = " -> ".join(built.stage.name for built in stages)
    console.print(f"wrote {run_dir}/ with stages {names}  (next: zsk train {run_dir})")


def _parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shape(shapes: dict[str, tuple[int, ...]], key: str) -> str:
    if key not in shapes:
        return ""
    return "×".join(["B", *(str(n) for n in shapes[key])])


def _holdout_note(data) -> str:
    holdout = data.holdout
    if holdout is None:
        return ""
    return (
        f"; a validation run: {len(holdout.classes)} seen classes and "
        f"{len(holdout.seen_images)} images of the others held out"
    )


def summary_tables(build: Build, cost: DryPassResult) -> list[Table]:
    """The modules (component, plugin, parameters, output shape) and the objective's terms."""
    spec, gan, data = build.spec, build.gan, build.data
    modules = Table(
        title=f"build '{spec.name}': data '{spec.data.type}' at {data.root}, "
        f"{len(data.classes)} classes ({len(data.seen)} seen), {data.num_attributes} "
        f"attributes, {len(data.train)} training images" + _holdout_note(data)
    )
    for column in ("module", "component", "plugin", "parameters", "output"):
        modules.add_column(column, justify="right" if column == "parameters" else "left")
    for path, module in (
        ("model.generator", gan.generator),
        ("model.trunk", gan.discriminator.trunk),
        *((f"model.heads.{role}", head) for role, head in gan.discriminator.heads.items()),
        ("model.semantic_encoder", gan.semantic_encoder),
    ):
        origin = build.provenance[path]
        modules.add_row(
            path.removeprefix("model."),
            origin["type"],
            origin["plugin"],
            f"{_parameters(module):,}",
            _shape(cost.shapes, path),
        )
    terms = Table(title="objective")
    for column in ("objective", "term", "plugin", "weight"):
        terms.add_column(column, justify="right" if column == "weight" else "left")
    for phase in PHASES:
        for index, term in enumerate(getattr(build.objective, phase)):
            origin = build.provenance[f"objective.{phase}.{index}"]
            shown = term.name if term.name == origin["type"] else f"{term.name} ({origin['type']})"
            terms.add_row(phase, shown, origin["plugin"], f"{term.weight:g}")
        for name, (role, sources) in _auxiliary_rows(build, phase).items():
            origin = build.provenance[f"model.heads.{role}"]
            terms.add_row(phase, f"{name} ({origin['type']}: {sources})", origin["plugin"], "1")
    return [modules, terms]


def _auxiliary_rows(build: Build, phase: str) -> dict[str, tuple[str, str]]:
    """The heads' own terms of ``phase`` by logged name: the head's role and its sources."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for term in build.objective.auxiliary[phase]:
        rows.setdefault(term.name, (term.role, []))[1].append(term.source)
    return {name: (role, ", ".join(sources)) for name, (role, sources) in rows.items()}


def totals(build: Build, cost: DryPassResult) -> list[str]:
    """Parameter counts, FLOPs and memory per training step (estimates from the dry runs)."""
    gan = build.gan
    counts = {
        "G": _parameters(gan.generator),
        "D": _parameters(gan.discriminator),
        "ψ": _parameters(gan.semantic_encoder),
    }
    weights = sum(p.numel() * p.element_size() for p in gan.parameters())
    buffers = sum(b.numel() * b.element_size() for b in gan.buffers())
    training = weights * _TRAINING_COPIES
    activations = cost.saved_bytes or 0
    total = weights + buffers + training + activations
    parts = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    return [
        f"parameters: {sum(counts.values()):,} ({parts})",
        f"≈ {_flops(cost.flops or 0)} per training step (forward and backward of G, D and ψ "
        f"at batch {cost.batch}, fp32)",
        f"≈ {_mib(total)} memory: weights {_mib(weights + buffers)}, gradients and Adam state "
        f"{_mib(training)}, activations {_mib(activations)} at batch {cost.batch}",
    ]


def _flops(flops: int) -> str:
    for unit, scale in (("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if flops >= scale:
            return f"{flops / scale:.1f} {unit}"
    return f"{flops} FLOP"


def _mib(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"
