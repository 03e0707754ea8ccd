"""The benchmarks' reduced modes run and print their tables, and the flat baseline is honest."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import pytest

from benchmarks import run_all
from benchmarks.speed import bench_layout, bench_overhead, bench_scaling
from benchmarks.speed.common import SHAPES_SPEC, make_trainer, synth_data
from benchmarks.speed.flat_loop import flat_settings
from zsk.core.build.composer import compose, load_data
from zsk.core.spec.loading import load_spec

TINY_PAPER = bench_overhead.QUICK["paper-awa2.yaml, tiny (32 px, batch 4)"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return synth_data(tmp_path_factory.mktemp("bench") / "data", images_per_class=2)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``text``, as stripped cells."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_flat_loop_computes_the_losses_of_zsk_step(data_root, tmp_path):
    spec, overrides, _, _ = TINY_PAPER  # label smoothing, flips, instance noise, hflip: all on
    trainer = make_trainer(spec, data_root, tmp_path / "run", overrides)
    agreement, *_ = bench_overhead.check_agreement(trainer, steps=2)
    assert len(agreement.zsk) == len(agreement.flat) == 16  # 2 steps × (4 D + 4 G terms)
    # same kernels in the same order, the same fused Adam: equal to the last bit
    assert agreement.zsk == agreement.flat


def test_agreement_check_catches_a_different_loss(data_root, tmp_path):
    spec, overrides, _, _ = TINY_PAPER
    trainer = make_trainer(spec, data_root, tmp_path / "run", overrides)
    other = dataclasses.replace(flat_settings(trainer.build), lambda_other=2.0)
    agreement, *_ = bench_overhead.check_agreement(trainer, steps=1, settings=other)
    cosine_real = agreement.names.index("step 1 D cosine_real")
    assert agreement.zsk[cosine_real] != pytest.approx(agreement.flat[cosine_real])
    lsgan = agreement.names.index("step 1 D lsgan")  # computed before λ1 acts: still equal
    assert agreement.zsk[lsgan] == agreement.flat[lsgan]


def test_flat_loop_refuses_an_objective_it_does_not_implement(data_root):
    spec = load_spec(SHAPES_SPEC.with_name("shapes-hinge.yaml"), [f"data.params.root={data_root}"])
    with pytest.raises(ValueError, match="flat loop implements"):
        flat_settings(compose(spec, load_data(spec)))


def test_overhead_quick_prints_its_table(capsys):
    assert bench_overhead.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "cores, torch " in out
    rows = table_rows(out)
    assert [row[0] for row in rows] == list(bench_overhead.QUICK)
    for row in rows:
        zsk, flat = float(row[2]), float(row[3])
        ratio, low, high = map(float, re.fullmatch(r"(\S+) \((\S+)–(\S+)\)", row[4]).groups())
        assert zsk > 0 and flat > 0 and 0 < low <= ratio <= high
    differences = re.findall(r"largest difference ([0-9.e+-]+)", out)
    assert len(differences) == 2 and all(float(d) < 1e-5 for d in differences)


def test_layout_quick_prints_its_table(capsys):
    assert bench_layout.main(["--quick"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0][0] == "1"
    contiguous, channels_last, ratio = map(float, rows[0][1:])
    assert contiguous > 0 and channels_last > 0 and ratio > 0


def test_scaling_quick_prints_its_table(capsys):
    assert bench_scaling.main(["--quick", "--sizes", "16", "--batches", "2", "4"]) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    # the grid, then its largest size's middle batch again with freed memory kept
    assert [tuple(row[:3]) for row in rows] == [
        ("16", "2", "default"),
        ("16", "4", "default"),
        ("16", "4", "kept"),
    ]
    small, large, kept = rows
    flops_small, flops_large = float(small[9]), float(large[9])
    # FLOPs are a + c·batch with a, c ≥ 0: doubling the batch at most doubles them
    assert 0 < flops_small < flops_large <= 2 * flops_small * 1.01  # 3 printed digits
    assert kept[9] == large[9]  # the allocator changes no arithmetic
    for row in rows:
        cpu, kernel = float(row[4]), float(row[5])
        ready, peak = float(row[12]), float(row[13])
        assert 0 <= kernel <= cpu + 0.01 and peak >= ready > 0
        assert float(row[14]) == pytest.approx(peak - ready, abs=1)
    assert "16 px: time ≈" in out and "one-thread fp32 matmul" in out
    assert "16 px, batch 4, freed memory kept for reuse: step CPU time ×" in out


def test_linear_fit_recovers_a_line_and_measures_departure():
    a, c, worst = bench_scaling.linear_fit([2, 4, 8], [1.0 + 0.5 * b for b in (2, 4, 8)])
    assert (a, c, worst) == pytest.approx((1.0, 0.5, 0.0))
    # quadratic growth: the fit's worst relative residual is visible
    *_, worst = bench_scaling.linear_fit([1, 2, 4], [1.0, 4.0, 16.0])
    xs, ys = [1, 2, 4], [1.0, 4.0, 16.0]
    slope = sum((x - 7 / 3) * (y - 7.0) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - 7 / 3) ** 2 for x in xs
    )
    intercept = 7.0 - slope * 7 / 3
    expected = max(abs(intercept + slope * x - y) / y for x, y in zip(xs, ys, strict=True))
    assert worst == pytest.approx(expected) and worst > 0.2


def test_time_to_quality_reads_a_finished_run(tmp_path):
    start = 1_700_000_000.0
    records = [{"time": start + 10 * i, "step": 25 * i, "d/lsgan": 0.5} for i in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = {
        "routes": {
            "embedding": {"zsl_top1": 0.4321, "gzsl": {"h": 0.25}},
            "generative": {"zsl_top1": 0.5, "gzsl": {"h": 0.3}},
        }
    }
    (tmp_path / "eval.json").write_text(json.dumps(result))
    os.utime(tmp_path / "eval.json", (start + 30 + 120, start + 30 + 120))
    lines = run_all.time_to_quality(tmp_path)
    # 20 s between steps 25 and 75 → 0.4 s a step; plus 25 steps before the first record
    assert lines[0] == f"training: {(20 + 0.4 * 25) / 60:.1f} min for 75 steps"
    assert lines[1] == "eval.json written 2.0 min after the last training record"
    assert lines[2] == (
        "ZSL top-1: embedding 43.2%, generative 50.0%; GZSL H: embedding 25.0%, generative 30.0%"
    )


def test_time_to_quality_without_a_finished_run(tmp_path):
    assert run_all.time_to_quality(tmp_path) is None
