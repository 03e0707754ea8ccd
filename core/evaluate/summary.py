"""The evaluation as rows of (method, metric, value): one source for the terminal and report.md."""

from __future__ import annotations

from zsk.core.evaluate.calibration import FAMILIAR
from zsk.core.evaluate.result import (
    EvalResult,
    GzslNumbers,
    Headline,
    MetricOutcome,
    RouteResult,
)

Row = tuple[str, str, str]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{float(value):.4g}"


def _gzsl_rows(method: str, gzsl: GzslNumbers) -> list[Row]:
    calibration = gzsl.calibration
    if calibration is None:  # a route whose own scores decide between seen and unseen
        return [
            (method, "GZSL u (unseen), uncalibrated", _percent(gzsl.u)),
            (method, "GZSL s (seen), uncalibrated", _percent(gzsl.s)),
            (method, "GZSL H, uncalibrated", _percent(gzsl.h)),
        ]
    h = "GZSL H"
    if calibration.source == FAMILIAR:
        h += " — SELF-CALIBRATED on classes the run trained on, not a GZSL result"
    constants = [(method, "calibration γ (chosen on validation)", _number(calibration.gamma))]
    if calibration.chosen_gamma is not None:
        constants = [
            (method, "calibration γ (carried into the run's scale)", _number(calibration.gamma)),
            (method, "calibration γ as chosen on validation", _number(calibration.chosen_gamma)),
        ]
    rows = [
        (method, "GZSL u (unseen)", _percent(gzsl.u)),
        (method, "GZSL s (seen)", _percent(gzsl.s)),
        (method, h, _percent(gzsl.h)),
        *constants,
        (method, "calibration chosen on", calibration.source),
    ]
    if gzsl.ausuc is not None:
        rows.append((method, "AUSUC", _number(gzsl.ausuc)))
    if gzsl.uncalibrated is not None:
        rows.append((method, "GZSL H without calibration", _percent(gzsl.uncalibrated.h)))
    return rows


def _route_rows(method: str, route: RouteResult) -> list[Row]:
    rows = [(method, "ZSL top-1 (per class)", _percent(route.zsl_top1))]
    rows += _gzsl_rows(method, route.gzsl)
    if route.images_per_class is not None:
        chosen = "samples per unseen class (chosen on validation)"
        rows.append((method, chosen, str(route.images_per_class)))
    if route.classifier_epochs is not None:
        chosen = "classifier epochs (chosen on validation)"
        rows.append((method, chosen, str(route.classifier_epochs)))
    weighing = route.combination
    if weighing is not None:
        for task, weight, temperature in (
            ("GZSL", weighing.embedding_weight, weighing.temperature),
            ("ZSL", weighing.zsl_embedding_weight, weighing.zsl_temperature),
        ):
            chosen = f"embedding route's weight for {task} (chosen on validation)"
            rows.append((method, chosen, f"{weight:g} (cosines at temperature {temperature:g})"))
    return rows


def _metric_rows(name: str, outcome: MetricOutcome) -> list[Row]:
    if outcome.failed is not None or outcome.values is None:
        return [(f"metric {name}", "FAILED", outcome.failed or "no values")]
    return [
        (f"metric {name}", key, value if isinstance(value, str) else _number(value))
        for key, value in outcome.values.items()
    ]


def summary_rows(result: EvalResult) -> list[Row]:
    """Rows (method, metric, formatted value) of an evaluation: each route (or why the run
    has none), the imagined samples' attribute accuracy, and each metric plugin."""
    rows: list[Row] = []
    for name, route in result.routes.items():
        rows += _route_rows(name.replace("_", " "), route)
    rows += [(method, "—", reason) for method, reason in result.unavailable.items()]
    if result.imagined is not None:
        probe = result.imagined.probe
        rows += [
            (
                "imagined images",
                "attribute accuracy",
                _percent(result.imagined.attribute_accuracy),
            ),
            (
                "imagined images",
                "probe on real unseen (reference)",
                _percent(probe.real_test_unseen),
            ),
            ("imagined images", "probe on real seen (reference)", _percent(probe.real_test_seen)),
        ]
    for name, outcome in result.metrics.items():
        rows += _metric_rows(name, outcome)
    return rows + headline_rows(result.headline)


def headline_rows(headline: Headline | None) -> list[Row]:
    """The headline routes, their test numbers, and what chose them."""
    if headline is None:
        return []
    return [
        ("headline", "ZSL route", f"{headline.zsl_route} ({headline.zsl_kind})"),
        ("headline", "ZSL top-1 (per class)", _percent(headline.zsl_top1)),
        ("headline", "GZSL route", f"{headline.route} ({headline.kind})"),
        ("headline", "GZSL H (calibrated)", _percent(headline.h)),
        ("headline", "chosen by", headline.why),
    ]


def markdown_table(result: EvalResult) -> str:
    """The summary rows as a Markdown table."""
    lines = ["| method | metric | value |", "| --- | --- | --- |"]
    lines += [f"| {m} | {k} | {v} |" for m, k, v in summary_rows(result)]
    return "\n".join(lines)
