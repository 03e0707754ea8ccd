"""The evaluation as rows of (method, metric, value): one source for the terminal and report.md."""

from __future__ import annotations

from typing import Any

from zsk.core.evaluate.calibration import FAMILIAR


def _percent(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def _number(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4g}"


def _gzsl_rows(method: str, gzsl: dict[str, Any]) -> list[tuple[str, str, str]]:
    calibration = gzsl["calibration"]
    h = "GZSL H"
    if calibration.get("source") == FAMILIAR:
        h += " — SELF-CALIBRATED on classes the run trained on, not a GZSL result"
    return [
        (method, "GZSL u (unseen)", _percent(gzsl["u"])),
        (method, "GZSL s (seen)", _percent(gzsl["s"])),
        (method, h, _percent(gzsl["h"])),
        (method, "calibration γ (chosen on validation)", _number(calibration["gamma"])),
        (method, "calibration chosen on", str(calibration.get("source", "—"))),
        (method, "AUSUC", _number(gzsl["ausuc"])),
        (method, "GZSL H without calibration", _percent(gzsl["uncalibrated"]["h"])),
    ]


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows (method, metric, formatted value) of an eval.json object."""
    if result["gzsl"] is None:  # a run without an embedding head
        rows = [("embedding", "—", str(result.get("embedding_unavailable", "—")))]
    else:
        rows = [("embedding", "ZSL top-1 (per class)", _percent(result["zsl_top1"]))]
        rows += _gzsl_rows("embedding", result["gzsl"])
    generative = result["generative"]
    if generative is None:  # a run without a trained generator
        return [*rows, ("generative", "—", str(result.get("imagined_unavailable", "—")))]
    probe = result["attribute_probe"]
    rows.append(("generative", "ZSL top-1 (per class)", _percent(generative["zsl_top1"])))
    rows += _gzsl_rows("generative", generative["gzsl"])
    rows += [
        (
            "generative",
            "samples per unseen class (chosen on validation)",
            str(generative.get("images_per_class", "—")),
        ),
        (
            "generative",
            "classifier epochs (chosen on validation)",
            str(generative.get("classifier_epochs", "—")),
        ),
    ]
    rows += _published_rows(generative.get("published_protocol"))
    rows += [
        ("imagined images", "attribute accuracy", _percent(result["generated_attribute_accuracy"])),
        (
            "imagined images",
            "probe on real unseen (reference)",
            _percent(probe["real_test_unseen"]),
        ),
        ("imagined images", "probe on real seen (reference)", _percent(probe["real_test_seen"])),
    ]
    for metric, values in result.get("metrics", {}).items():
        rows += [(f"metric {metric}", key, _value(value)) for key, value in values.items()]
    return rows


def _published_rows(published: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """A feature run's numbers as f-CLSWGAN's release computes them (uncalibrated)."""
    if published is None:
        return []
    method = "published protocol"
    gzsl = published["gzsl"]
    return [
        (method, "ZSL top-1 (per class)", _percent(published["zsl_top1"])),
        (method, "GZSL u (unseen), uncalibrated", _percent(gzsl["u"])),
        (method, "GZSL s (seen), uncalibrated", _percent(gzsl["s"])),
        (method, "GZSL H, uncalibrated", _percent(gzsl["h"])),
    ]


def _value(value: Any) -> str:
    return value if isinstance(value, str) else _number(value)


def markdown_table(result: dict[str, Any]) -> str:
    """The summary rows as a Markdown table."""
    lines = ["| method | metric | value |", "| --- | --- | --- |"]
    lines += [f"| {m} | {k} | {v} |" for m, k, v in summary_rows(result)]
    return "\n".join(lines)
