"""How ``zsk eval`` runs metric plugins: ``--metric`` parsed, metrics built, values checked."""

from __future__ import annotations

import json
import math

import yaml
from pydantic import ValidationError

from zsk.core.components.interfaces import Metric, MetricValue
from zsk.core.components.metric_inputs import MetricInputs
from zsk.core.evaluate.result import MetricOutcome
from zsk.core.spec.refs import MetricRef
from zsk.registry import UserError, get_registry


def parse_metric(text: str) -> MetricRef:
    """A ``--metric`` value: a metric's name, or ``{type: NAME, params: {...}}`` in YAML."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"--metric {text!r} is not YAML: {exc}".splitlines()[0]) from None
    if isinstance(value, str):
        value = {"type": value}
    try:
        return MetricRef.model_validate(value, context={"registry": get_registry()})
    except ValidationError as exc:
        message = "; ".join(error["msg"] for error in exc.errors())
        raise UserError(
            f"--metric {text!r}: {message}",
            hint="give a metric's name, or {type: NAME, params: {...}} (`zsk plugins --kind "
            "metric`)",
        ) from None


def check_values(name: str, values: object) -> dict[str, MetricValue]:
    """A metric's result, refused unless it is a JSON object of finite numbers, text or null."""
    if not isinstance(values, dict) or not all(isinstance(key, str) for key in values):
        raise TypeError(f"metric '{name}' returned {type(values).__name__}, not a dict by name")
    for key, value in values.items():
        if value is not None and not isinstance(value, (int, float, str)):
            raise TypeError(f"metric '{name}' value {key!r} is a {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise TypeError(f"metric '{name}' value {key!r} is {value}; return None instead")
    json.dumps(values)
    return values


def build_metrics(refs: list[MetricRef]) -> dict[str, Metric]:
    """The metrics by name, built before the long part of an evaluation so that a bad
    parameter (a missing weights file) is refused at once."""
    return {ref.type: ref.build() for ref in refs}


def compute_metrics(metrics: dict[str, Metric], inputs: MetricInputs) -> dict[str, MetricOutcome]:
    """Each metric's checked values by the metric's name; a metric that raises or returns what
    eval.json cannot hold is recorded as failed with the reason, and the others still count."""
    outcomes = {}
    for name, metric in metrics.items():
        try:
            outcomes[name] = MetricOutcome(values=check_values(name, metric.compute(inputs)))
        except Exception as exc:  # a plugin's fault must not throw the evaluation away
            outcomes[name] = MetricOutcome(failed=f"{type(exc).__name__}: {exc}")
    return outcomes
