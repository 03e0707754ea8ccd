"""`zsk build`: run directories that reproduce byte for byte, refusals, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.core.rundir.directory import LATEST, load_run, resolve_run_dir
from zsk.core.spec.loading import load_spec
from zsk.registry import DISTRIBUTION, UserError

EXAMPLES = Path(__file__).parents[3] / "examples"
#: Narrower networks than the example's, to keep the test quick; the wiring is the same.
SMALL = (
    "--set",
    "model.trunk.params.channels=[4, 8, 8]",
    "--set",
    "model.generator.params={base_channels: 4, max_channels: 8}",
    "--set",
    "model.heads.reconstruction_feature.params.channels=4",
    "--set",
    "validation_run=null",
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory with the synthetic data set at data/shapes (the example's root)."""
    from zsk.core.data.synth import synthesize

    monkeypatch.chdir(tmp_path)
    synthesize(
        tmp_path / "data" / "shapes",
        classes=20,
        unseen=4,
        images_per_class=1,
        min_size=16,
        max_size=16,
    )
    return tmp_path


def zsk(*args: str):
    with torch.random.fork_rng(devices=[]):
        return CliRunner().invoke(cli, list(args))


def test_build_twice_gives_identical_files_and_a_summary(project):
    first = zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL)
    assert first.exit_code == 0, first.output
    run = project / "runs" / "shapes"
    weights, lock = (run / "init.safetensors").read_bytes(), (run / "spec.lock.yaml").read_bytes()
    for text in ("generator", "encoder_decoder", "heads.embedding", "B×3×32×32", "parameters:"):
        assert text in first.output
    assert "FLOP per training step" in first.output and "MiB memory" in first.output
    assert LATEST.read_text().strip() == "runs/shapes"

    second = zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL)
    assert second.exit_code == 0, second.output
    assert (run / "init.safetensors").read_bytes() == weights
    assert (run / "spec.lock.yaml").read_bytes() == lock


def test_the_summary_lists_each_heads_own_terms_with_the_phase_and_sources_it_joins(project):
    acgan = ("--set", "model.heads.real_fake={type: acgan, params: {fakes: false}}")
    with torch.random.fork_rng(devices=[]):
        built = CliRunner().invoke(
            cli, ["build", str(EXAMPLES / "shapes.yaml"), *SMALL, *acgan], env={"COLUMNS": "200"}
        )
    assert built.exit_code == 0, built.output
    rows = [line.split("│")[1:-1] for line in built.output.splitlines() if "auxiliary" in line]
    cells = [[cell.strip() for cell in row] for row in rows]
    assert [(phase, term, weight) for phase, term, _, weight in cells] == [
        ("discriminator", "heads.real_fake.auxiliary (acgan: real)", "1"),
        ("generator", "heads.real_fake.auxiliary (acgan: fake)", "1"),
    ]


def test_lock_file_is_the_resolved_spec_and_load_run_restores_the_build(project):
    assert zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL).exit_code == 0
    run = resolve_run_dir(None)
    assert run == Path("runs/shapes")
    locked = load_spec(run / "spec.lock.yaml")
    assert locked == load_spec(EXAMPLES / "shapes.yaml", SMALL[1::2])
    build = load_run(run)
    assert build.provenance["model.generator"]["distribution"] == DISTRIBUTION
    from safetensors.torch import load_file

    saved = load_file(str(run / "init.safetensors"))
    state = build.gan.state_dict()
    assert set(saved) == set(state)
    assert all(torch.equal(saved[k], state[k]) for k in state)


def test_changed_data_is_refused_by_load_run(project):
    assert zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL).exit_code == 0
    matrix = project / "data" / "shapes" / "predicate-matrix-continuous.txt"
    rows = matrix.read_text().splitlines()
    rows[0] = " ".join("50.00" for _ in rows[0].split())
    matrix.write_text("\n".join(rows) + "\n")
    with pytest.raises(UserError, match="changed since runs/shapes was built"):
        load_run(Path("runs/shapes"))


def test_checkpoints_are_never_overwritten_silently(project):
    assert zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL).exit_code == 0
    checkpoint = project / "runs" / "shapes" / "checkpoints" / "step-10.safetensors"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"trained")
    refused = zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL)
    assert refused.exit_code == 2
    assert "already holds training checkpoints" in refused.output and "--force" in refused.output
    assert checkpoint.read_bytes() == b"trained"

    forced = zsk("build", str(EXAMPLES / "shapes.yaml"), *SMALL, "--force")
    assert forced.exit_code == 0, forced.output
    (old,) = (project / "runs").glob("shapes.old-*")
    assert (old / "checkpoints" / "step-10.safetensors").read_bytes() == b"trained"
    assert not (project / "runs" / "shapes" / "checkpoints").exists()
    assert f"aside to {Path('runs') / old.name}" in forced.output


def test_paper_spec_builds_against_synthetic_data_with_overrides(project):
    result = zsk(
        "build",
        str(EXAMPLES / "paper-awa2.yaml"),
        "--set",
        "data.params.root=data/shapes",
        "--set",
        "model.image_size=32",
        "--set",
        "model.trunk.params.channels=[4, 8, 8]",
        "--set",
        "model.generator.params.base_channels=4",
        "--set",
        "model.generator.params.max_channels=8",
        "--out",
        "runs/paper-small",
    )
    assert result.exit_code == 0, result.output
    build = load_run(Path("runs/paper-small"))
    assert build.spec.train.instance_noise.std == 0.2
    assert build.spec.train.optimizers.generator.lr == 5e-5


def test_bad_input_exits_2_with_a_located_message_and_no_traceback(project):
    spec = project / "bad.yaml"
    spec.write_text((EXAMPLES / "shapes.yaml").read_text().replace("type: sn_conv", "type: sn_cnv"))
    result = zsk("build", str(spec))
    assert result.exit_code == 2
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if "sn_cnv" in t)
    assert f"bad.yaml:{line}:11  model.trunk.type  unknown trunk 'sn_cnv'" in result.output
    assert "Did you mean 'sn_conv'?" in result.output
    assert "Traceback" not in result.output


def test_missing_data_and_wiring_mismatch_are_located(project):
    missing = zsk("build", str(EXAMPLES / "shapes.yaml"), "--set", "data.params.root=nowhere")
    assert missing.exit_code == 2
    assert "--set data.params.root=nowhere  data.params.root  " in missing.output

    lines = (EXAMPLES / "shapes.yaml").read_text().splitlines()
    trunk_line = next(i for i, t in enumerate(lines, 1) if t.strip() == "trunk:")
    head_line = next(i for i, t in enumerate(lines, 1) if "real_fake: {type: real_fake}" in t)

    kernel = zsk(
        "build",
        str(EXAMPLES / "shapes.yaml"),
        "--set",
        "model.heads.real_fake.params.kernel_size=7",
    )
    assert kernel.exit_code == 2
    assert (
        f"shapes.yaml:{head_line}:16  model.heads.real_fake  heads.real_fake ('real_fake') needs "
        "at least 5×5 features (kernel 7, padding 1), but trunk 'sn_conv' gives 128×4×4 "
        "features at model.image_size=32 with 3 stride-2 blocks"
    ) in kernel.output

    # 32 px through 5 stride-2 blocks leaves 1×1, where instance norm cannot train
    deeper = zsk(
        "build", str(EXAMPLES / "shapes.yaml"), "--set", "model.trunk.params.channels=[4,4,4,4,4]"
    )
    assert deeper.exit_code == 2
    assert f"shapes.yaml:{trunk_line + 1}:5  model.trunk  trunk 'sn_conv'" in deeper.output
    assert "Traceback" not in deeper.output


def test_impossible_validation_runs_are_refused_where_the_spec_says_so(project):
    too_many = zsk("build", str(EXAMPLES / "shapes.yaml"), "--set", "holdout.classes=16")
    assert too_many.exit_code == 2
    assert "--set holdout.classes=16  holdout.classes  holdout.classes is 16" in too_many.output
    assert "hold out between 1 and 15 of them" in too_many.output
    # this data set has one training image per class: none is left to calibrate on
    few = zsk("build", str(EXAMPLES / "shapes.yaml"), "--set", "holdout.classes=4")
    assert few.exit_code == 2
    assert "holds out no training image of the trained classes" in " ".join(few.output.split())
    assert "Traceback" not in too_many.output + few.output


def test_train_without_a_build_is_a_user_error(project):
    with pytest.raises(UserError, match="no build recorded"):
        resolve_run_dir(None)
    with pytest.raises(UserError, match="is not a run directory"):
        resolve_run_dir(project)
