"""Optimisers, the learning-rate schedule, the generator's EMA and the device choice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zsk.core.spec.sections import OptimizerSpec, ScheduleSpec
from zsk.core.train.device import resolve_device, resolve_precision
from zsk.core.train.ema import ModelEMA
from zsk.core.train.optim import (
    discriminator_parameters,
    gradient_norm,
    lr_factor,
    make_optimizer,
)
from zsk.registry import UserError


def test_constant_then_linear_decay_in_steps():
    schedule = ScheduleSpec(type="constant_then_linear", constant=10, decay=4, unit="steps")
    expected = [1.0] * 10 + [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert [lr_factor(schedule, s, steps_per_epoch=99) for s in range(16)] == expected


def test_schedule_in_epochs_scales_by_steps_per_epoch():
    schedule = ScheduleSpec(type="constant_then_linear", constant=2, decay=2, unit="epochs")
    assert lr_factor(schedule, 9, steps_per_epoch=5) == 1.0
    assert lr_factor(schedule, 15, steps_per_epoch=5) == pytest.approx(1 - 5 / 10)
    assert lr_factor(ScheduleSpec(type="constant"), 10**6, steps_per_epoch=5) == 1.0


def test_adam_or_adamw_with_the_spec_settings():
    params = [nn.Parameter(torch.zeros(3))]
    adam = make_optimizer(params, OptimizerSpec(lr=1e-3, betas=(0.5, 0.9)), torch.device("cpu"))
    assert type(adam) is torch.optim.Adam
    assert adam.param_groups[0]["lr"] == 1e-3 and adam.param_groups[0]["betas"] == (0.5, 0.9)
    adamw = make_optimizer(params, OptimizerSpec(weight_decay=0.01), torch.device("cpu"))
    assert type(adamw) is torch.optim.AdamW and adamw.param_groups[0]["weight_decay"] == 0.01


def test_discriminator_optimiser_covers_the_semantic_encoder(tiny_data):
    from tests.tiny_runs import make_build, spec_dict

    gan = make_build(tiny_data, spec_dict(tiny_data.root)).gan
    ids = {id(p) for p in discriminator_parameters(gan)}
    assert all(id(p) in ids for p in gan.semantic_encoder.parameters())
    assert all(id(p) in ids for p in gan.discriminator.parameters())
    assert not any(id(p) in ids for p in gan.generator.parameters())


def test_gradient_norm_and_clipping():
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    assert gradient_norm([a, b], None).item() == pytest.approx(5.0)
    assert gradient_norm([a, b], 1.0).item() == pytest.approx(5.0)
    assert torch.allclose(a.grad, torch.tensor([0.6, 0.0]), atol=1e-5)
    assert torch.allclose(b.grad, torch.tensor([0.8]), atol=1e-5)


def test_ema_follows_the_formula_and_copies_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = ModelEMA(model, decay=0.9)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(5.0)
    ema.update(model)
    assert torch.allclose(ema.shadow[0].weight, 0.9 * start + 0.1 * (start + 1.0))
    assert torch.equal(ema.shadow[1].running_mean, torch.full((2,), 5.0))
    assert not any(p.requires_grad for p in ema.shadow.parameters())


def test_cpu_trains_in_fp32_and_cuda_without_a_gpu_is_a_user_error(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("bf16", cpu).dtype is None
    assert resolve_precision("auto", cpu).name == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == cpu
    with pytest.raises(UserError, match="no CUDA GPU"):
        resolve_device("cuda")
