"""The contract catches a bug planted in each kind of the example's components, by name.

Each planted component is a one-method change to a real one: a projection head that ignores
its condition, a loss with a trainable parameter, a data format that reads one attribute row
too few, a metric that returns NaN. The checks raise :class:`zsk.api.ContractError` themselves
(no ``assert``), so they catch each bug under ``python -O`` too; ci.sh runs this file so.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from zsk.api import (
    Condition,
    ContractError,
    Dims,
    MetricInputs,
    MetricValue,
    StepContext,
    ZslData,
    check_component,
)

from zsk_plugin_example.datasets import ClassTable
from zsk_plugin_example.heads import AttributeProjection
from zsk_plugin_example.losses import RelativisticAverageLSGAN
from zsk_plugin_example.metrics import ColourGap

NO_NORM = {"weight_norm": {"type": "none"}}


class ConditionBlindProjection(AttributeProjection):
    """A projection head that projects a constant instead of the judged images' attributes."""

    name = "condition_blind_projection"

    def forward(self, features: torch.Tensor, condition: Condition) -> torch.Tensor:
        h = features.mean(dim=(2, 3))
        return (
            self.score(h).squeeze(1) + 0 * self.embed(torch.ones_like(condition.attributes)).sum()
        )


class TrainableScaleLSGAN(RelativisticAverageLSGAN):
    """RaLSGAN with a learned scale that no optimiser would ever step."""

    name = "trainable_scale_ralsgan"

    def __init__(self, params: RelativisticAverageLSGAN.Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, step: StepContext) -> torch.Tensor:
        return self.scale * super().forward(step)


class ShortTable(ClassTable):
    """class_table that drops the last attribute row."""

    name = "short_table"

    def load(self) -> ZslData:
        data = super().load()
        return dataclasses.replace(data, attributes=data.attributes[:-1])


class NanGap(ColourGap):
    """A colour gap that divides by zero."""

    name = "nan_gap"

    def compute(self, inputs: MetricInputs) -> dict[str, MetricValue]:
        return {**super().compute(inputs), "colour_gap": float("nan")}


def test_a_head_that_ignores_its_condition_is_caught():
    with pytest.raises(
        ContractError, match="head 'condition_blind_projection'.*ignores its condition"
    ):
        check_component(ConditionBlindProjection, params=NO_NORM)


def test_a_loss_with_a_trainable_parameter_is_caught():
    with pytest.raises(
        ContractError, match=r"loss 'trainable_scale_ralsgan'.*trainable parameters \(scale\)"
    ):
        check_component(TrainableScaleLSGAN)


def test_a_reader_with_a_short_attribute_matrix_is_caught(tmp_path, write_table):
    root = str(write_table(tmp_path))
    with pytest.raises(
        ContractError, match="dataset 'short_table': read 2 attribute rows for 3 classes"
    ):
        check_component(ShortTable, params={"root": root})


def test_a_nan_metric_is_caught():
    with pytest.raises(ContractError, match="metric 'nan_gap'.*'colour_gap' is nan"):
        check_component(NanGap)


def test_the_unplanted_components_pass(tmp_path, write_table):
    check_component(AttributeProjection, params=NO_NORM)
    check_component(RelativisticAverageLSGAN)
    check_component(ClassTable, params={"root": str(write_table(tmp_path))})
    check_component(ColourGap)
