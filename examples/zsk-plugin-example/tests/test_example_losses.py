"""The relativistic-average LSGAN loss: zsk's contract, and its values against the formula."""

from __future__ import annotations

import pytest
import torch
from zsk.api import ToyStep, check_component

from zsk_plugin_example.losses import RelativisticAverageLSGAN


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def ralsgan_by_hand(real: list[float], fake: list[float]) -> float:
    """mean((r − mean(fake) − 1)²) + mean((f − mean(real) + 1)²), term by term."""
    mean_real, mean_fake = mean(real), mean(fake)
    return mean([(r - mean_fake - 1) ** 2 for r in real]) + mean(
        [(f - mean_real + 1) ** 2 for f in fake]
    )


def _value(phase: str, patch_size: int | None = None) -> tuple[float, list[float], list[float]]:
    step = ToyStep(phase, batch_size=5, patch_size=patch_size, seed=3)
    loss = RelativisticAverageLSGAN(RelativisticAverageLSGAN.Params(), dims=step.dims)
    value = loss(step).item()
    real = step.head("real_fake", "real").flatten().tolist()
    fake = step.head("real_fake", "fake").flatten().tolist()
    return value, real, fake


def test_meets_the_zsk_contract():
    check_component(RelativisticAverageLSGAN)


@pytest.mark.parametrize("patch_size", [None, 3])
def test_discriminator_value_matches_the_formula(patch_size):
    value, real, fake = _value("discriminator", patch_size)
    assert value == pytest.approx(ralsgan_by_hand(real, fake), rel=1e-5)


@pytest.mark.parametrize("patch_size", [None, 3])
def test_generator_value_is_the_formula_with_real_and_fake_swapped(patch_size):
    value, real, fake = _value("generator", patch_size)
    assert value == pytest.approx(ralsgan_by_hand(fake, real), rel=1e-5)


def test_equal_scores_cost_two_and_separated_scores_cost_nothing():
    def loss_of(real: float, fake: float) -> float:
        step = ToyStep("discriminator", batch_size=3)
        with torch.no_grad():
            step.head("real_fake", "real").fill_(real)
            step.head("real_fake", "fake").fill_(fake)
        return RelativisticAverageLSGAN(RelativisticAverageLSGAN.Params(), dims=step.dims)(
            step
        ).item()

    assert loss_of(0.4, 0.4) == pytest.approx(2.0)
    assert loss_of(1.5, 0.5) == pytest.approx(0.0)


def test_discriminator_gradient_raises_real_scores_below_the_margin():
    step = ToyStep("discriminator", batch_size=4)
    real = step.head("real_fake", "real")
    fake = step.head("real_fake", "fake")
    with torch.no_grad():
        real.fill_(0.0)
        fake.fill_(0.0)
    loss = RelativisticAverageLSGAN(RelativisticAverageLSGAN.Params(), dims=step.dims)(step)
    grad_real, grad_fake = torch.autograd.grad(loss, [real, fake])
    assert (grad_real < 0).all() and (grad_fake > 0).all()
