"""The contract catches the bugs that slip through a forward-and-backward check: each test
plants one in an otherwise working component and reads the contract's verdict."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from pydantic import Field
from torch import nn

from zsk.core.components.interfaces import Loss, SemanticEncoder
from zsk.plugins.builtin.generators import NoiseDecoder
from zsk.plugins.builtin.heads import AttributeHead
from zsk.registry import Component
from zsk.testing import check_component
from zsk.testing.errors import ContractError
from zsk.testing.toy_step import check_loss

SMALL_G = {"base_channels": 4, "max_channels": 8, "attention_at": []}


class _NoiseBlind(NoiseDecoder):
    """Draws every image from the same noise."""

    name = "noise_blind"

    def forward(self, attributes, images=None, noise=None):
        return super().forward(attributes, images, torch.zeros_like(noise))


class _AttributeBlind(NoiseDecoder):
    """Makes every class from the same attributes."""

    name = "attribute_blind"

    def forward(self, attributes, images=None, noise=None):
        return super().forward(torch.zeros_like(attributes), images, noise)


def test_the_generators_that_work_pass():
    check_component(NoiseDecoder, params=SMALL_G)


@pytest.mark.parametrize(
    "cls, what", [(_NoiseBlind, "ignores its noise"), (_AttributeBlind, "ignores its attributes")]
)
def test_a_generator_that_ignores_an_input_is_caught(cls, what):
    with pytest.raises(ContractError, match=what):
        check_component(cls, params=SMALL_G)


class _Encoder(SemanticEncoder):
    """ψ with one planted fault, named by its ``fault`` param."""

    name = "faulty"

    class Params(Component.Params):
        fault: str = Field("none", description="which contract to break")

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        self.linear = nn.Linear(dims.num_attributes, dims.embedding_dim)
        self.unused = nn.Linear(2, 2)
        self.register_buffer("offset", torch.randn(dims.embedding_dim), persistent=False)

    def forward(self, attributes):
        out = self.linear(attributes)
        if self.params.fault != "grad":  # a parameter no gradient reaches
            out = out + (self.unused.weight.sum() + self.unused.bias.sum()) * 0
        fault = self.params.fault
        if fault == "shape":
            return out[:, :-1]
        if fault == "state":  # a buffer the state dict does not keep
            return out + self.offset
        if fault == "nan":
            return out / 0 * 0
        if fault == "centre":  # subtracts the batch mean: samples leak into others
            return out - out.mean(dim=0)
        if fault == "standardise":  # divides by the batch's spread: NaN for one
            return out / out.std(dim=0)
        return out


@pytest.mark.parametrize(
    "fault, message",
    [
        ("none", None),
        ("shape", r"output has shape \(2, 15\), not \(2, 16\)"),
        ("nan", "output 0 has non-finite values"),
        ("grad", "no gradient reaches unused.weight, unused.bias"),
        ("state", "differs after a safetensors round trip"),
        ("centre", "mixes samples across the batch"),
        ("standardise", "not finite at batch size 1"),
    ],
)
def test_the_contract_reports_what_a_component_gets_wrong(fault, message):
    if message is None:
        check_component(_Encoder, params={"fault": fault})
        return
    with pytest.raises(ContractError, match=message):
        check_component(_Encoder, params={"fault": fault})


class _Penalty(Loss):
    """R1 with a planted fault: its input gradient may be taken without create_graph."""

    name = "planted_r1"
    phases: ClassVar[frozenset[str]] = frozenset({"discriminator"})
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    class Params(Loss.Params):
        create_graph: bool = True

    def forward(self, step):
        real = step.real().detach().requires_grad_(True)
        scores = step.score(real).reshape(len(real), -1).mean(dim=1)
        create_graph = self.params.create_graph
        (gradient,) = torch.autograd.grad(scores.sum(), real, create_graph=create_graph)
        return (
            gradient.flatten(1).square().sum(dim=1).mean()
            + 0 * step.head("real_fake", "real").sum()
        )


def test_a_penalty_without_create_graph_is_caught():
    check_loss(_Penalty)
    with pytest.raises(ContractError, match="no gradient reaches the critic's weights"):
        check_loss(_Penalty, {"create_graph": False})


class _BatchStatLoss(Loss):
    """A loss that normalises scores by their spread over the batch."""

    name = "spread_normalised"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step):
        fake = step.head("real_fake", "fake")
        return (fake / fake.std()).mean()


def test_a_loss_that_is_nan_at_batch_size_one_is_caught():
    with pytest.raises(ContractError, match="at batch size 1"):
        check_loss(_BatchStatLoss)


class _ClaimsToPool(AttributeHead):
    """Declares that it reads only the features' mean, whatever its conv's kernel."""

    name = "claims_to_pool"

    def pools_positions(self) -> bool:
        return True


def test_a_head_that_reads_positions_but_claims_to_pool_is_caught():
    check_component(_ClaimsToPool, params={"kernel_size": 1, "padding": 0}, in_shape=(8, 4, 4))
    with pytest.raises(ContractError, match="declares pools_positions"):
        check_component(_ClaimsToPool, params={"kernel_size": 3}, in_shape=(8, 4, 4))
