"""Loss curves drawn with matplotlib, and the evaluation summary table."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zsk.core.evaluate.plot import (
    COLUMNS,
    DPI,
    PANEL_INCHES,
    moving_average,
    plot_series,
    read_metrics,
    split_losses,
    wants_log_scale,
)
from zsk.core.evaluate.result import Combination, EvalResult, RouteResult
from zsk.core.evaluate.summary import markdown_table, summary_rows


def test_read_metrics_keeps_numbers_per_key_and_skips_bad_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        json.dumps({"step": 1, "d/total": 2.0, "g/total": 1.5, "phase": "x"}),
        "not json",
        json.dumps({"d/total": 9.0}),  # no step
        json.dumps({"step": 2, "d/total": 1.0, "g/total": float("nan"), "flag": True}),
    ]
    path.write_text("\n".join(lines) + "\n")
    series = read_metrics(path)
    assert series == {"d/total": [(1.0, 2.0), (2.0, 1.0)], "g/total": [(1.0, 1.5)]}
    assert read_metrics(tmp_path / "absent.jsonl") == {}


def test_moving_average_is_a_trailing_mean():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([4.0], 3) == [4.0]


def test_plot_series_draws_one_panel_per_series(tmp_path):
    series = {f"loss{i}": [(s, 1.0 / (s + 1) + i) for s in range(30)] for i in range(4)}
    series["single"] = [(5.0, 2.0)]
    path = plot_series(series, tmp_path / "report" / "losses.png")
    with Image.open(path) as image:
        # five panels in rows of COLUMNS
        width, height = (round(inches * DPI) for inches in PANEL_INCHES)
        assert image.size == (COLUMNS * width, 2 * height)
        pixels = image.convert("RGB")
        colours = {
            pixels.getpixel((x, y))
            for x in range(0, image.width, 3)
            for y in range(0, image.height, 3)
        }
    assert len(colours) > 3  # axes, raw and smoothed lines were drawn on white


def test_log_scale_only_for_positive_values_spanning_two_decades():
    assert wants_log_scale([0.01, 0.5, 2.0])  # 200x
    assert not wants_log_scale([0.1, 5.0])  # 50x
    assert not wants_log_scale([-1.0, 0.001, 10.0])  # not all positive
    assert not wants_log_scale([0.0, 10.0])


def test_plot_series_refuses_nothing(tmp_path):
    with pytest.raises(ValueError, match="nothing"):
        plot_series({}, tmp_path / "x.png")


def _result(metrics=None) -> EvalResult:
    gzsl = {
        "u": 0.5,
        "s": 0.25,
        "h": 1 / 3,
        "calibration": {
            "gamma": 0.125,
            "val_u": 0.4,
            "val_s": 0.6,
            "val_h": 0.48,
            "source": "validation run v",
        },
        "ausuc": 0.3,
        "uncalibrated": {"u": 0.1, "s": 0.9, "h": 0.18},
    }
    return EvalResult.model_validate(
        {
            "run": "runs/x",
            "checkpoint": "step-3.safetensors",
            "step": 3,
            "seed": 0,
            "routes": {
                "embedding": {"zsl_top1": 0.75, "gzsl": gzsl},
                "generative": {"zsl_top1": 0.6, "gzsl": gzsl, "images_per_class": 64},
            },
            "imagined": {
                "attribute_accuracy": 0.8,
                "probe": {
                    "real_test_seen": 0.95,
                    "real_test_unseen": 0.85,
                    "threshold": "binary attributes, threshold 0.5",
                    "steps": 5,
                    "per_predicate": {},
                },
            },
            "metrics": metrics or {},
            "calibration": {"source": "validation run v", "seen_images": 4, "unseen_images": 6},
            "images": {"train": 10, "test_seen": 4, "test_unseen": 6},
        }
    )


def test_summary_rows_format_fractions_as_percentages():
    rows = summary_rows(_result())
    assert ("embedding", "ZSL top-1 (per class)", "75.0%") in rows
    assert ("embedding", "GZSL H", "33.3%") in rows
    assert ("generative", "ZSL top-1 (per class)", "60.0%") in rows
    assert ("embedding", "calibration γ (chosen on validation)", "0.125") in rows
    carried = _result().model_dump()
    carried["routes"]["embedding"]["gzsl"]["calibration"]["chosen_gamma"] = 0.25
    rows_carried = summary_rows(EvalResult.model_validate(carried))
    assert ("embedding", "calibration γ (carried into the run's scale)", "0.125") in rows_carried
    assert ("embedding", "calibration γ as chosen on validation", "0.25") in rows_carried
    assert ("embedding", "calibration γ (chosen on validation)", "0.125") not in rows_carried
    assert ("generative", "samples per unseen class (chosen on validation)", "64") in rows
    assert ("imagined images", "attribute accuracy", "80.0%") in rows
    assert not [row for row in rows if row[0].startswith("metric")]
    metrics = {"fid": {"values": {"fid": 12.5, "kid": None, "note": "few images"}}}
    rows = summary_rows(_result(metrics))
    assert ("metric fid", "fid", "12.5") in rows and ("metric fid", "kid", "—") in rows
    assert ("metric fid", "note", "few images") in rows


def test_summary_rows_name_a_failed_metric_and_an_unavailable_route():
    result = _result({"fid": {"failed": "ValueError: no weights"}}).model_copy(
        update={"unavailable": {"embedding": "no embedding head"}}
    )
    rows = summary_rows(result)
    assert ("metric fid", "FAILED", "ValueError: no weights") in rows
    assert ("embedding", "—", "no embedding head") in rows


def test_a_feature_runs_published_protocol_has_its_own_rows():
    assert not [row for row in summary_rows(_result()) if row[0] == "published protocol"]
    published = {"zsl_top1": 0.5, "gzsl": {"u": 0.125, "s": 0.875, "h": 0.21875}}
    result = _result()
    result = result.model_copy(
        update={"routes": result.routes | {"published_protocol": RouteResult(**published)}}
    )
    rows = [row for row in summary_rows(result) if row[0] == "published protocol"]
    assert rows == [
        ("published protocol", "ZSL top-1 (per class)", "50.0%"),
        ("published protocol", "GZSL u (unseen), uncalibrated", "12.5%"),
        ("published protocol", "GZSL s (seen), uncalibrated", "87.5%"),
        ("published protocol", "GZSL H, uncalibrated", "21.9%"),
    ]


def test_a_combined_route_names_the_weighing_chosen_for_each_task():
    combination = {
        "temperature": 10.0,
        "embedding_weight": 0.25,
        "zsl_temperature": 5.0,
        "zsl_embedding_weight": 1.0,
    }
    result = _result()
    weighing = Combination(**combination)
    route = result.routes["embedding"].model_copy(update={"combination": weighing})
    result = result.model_copy(update={"routes": result.routes | {"combined": route}})
    rows = [row[1:] for row in summary_rows(result) if row[0] == "combined"]
    assert rows[-2:] == [
        (
            "embedding route's weight for GZSL (chosen on validation)",
            "0.25 (cosines at temperature 10)",
        ),
        ("embedding route's weight for ZSL (chosen on validation)", "1 (cosines at temperature 5)"),
    ]


def test_markdown_table_has_a_header_and_one_line_per_row():
    table = markdown_table(_result()).splitlines()
    assert table[0] == "| method | metric | value |"
    assert len(table) == 2 + len(summary_rows(_result()))


def test_split_losses_separates_terms_from_other_signals():
    point = [(1.0, 1.0)]
    series = {"d/lsgan": point, "g/l1": point, "grad_norm/d": point, "lr_g": point}
    series |= {"time": point, "epoch": point}
    losses, others = split_losses(series)
    assert sorted(losses) == ["d/lsgan", "g/l1"]
    assert sorted(others) == ["grad_norm/d", "lr_g"]
