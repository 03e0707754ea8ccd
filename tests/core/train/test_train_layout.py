"""Memory layout of a training step: channels_last networks and batches compute the step that
the contiguous layout computes, up to float rounding, on the CPU as on CUDA."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.tiny_components import SIZE
from tests.tiny_runs import make_build, spec_dict
from zsk.core.recommend.recipes import PAPER_TRUNK, route_sections
from zsk.core.train.loop import Trainer
from zsk.core.train.optimizer_state import join_optimizer_state, split_optimizer_state


def _recogniser_spec(root, channels_last: bool, trunk: str | None = None) -> dict:
    """``zsk init``'s recogniser on the tiny data (or the image GAN's with ``image-gan``)."""
    spec = spec_dict(root)
    sections = route_sections(trunk or "no-gan", image_size=SIZE, epochs=1, seed=3)
    spec["model"] = sections["model"]
    spec["model"]["trunk"]["params"]["channels"] = [4, 8]
    spec["model"]["generator"]["params"] |= {"base_channels": 4, "max_channels": 8}
    spec["objective"] = sections["objective"]
    spec["train"] |= {"batch_size": 6, "channels_last": channels_last}
    return spec


def _step(data, tmp_path, spec) -> tuple[Trainer, dict, dict]:
    """A trainer after one step: its logged terms and every gradient it holds."""
    trainer = Trainer(make_build(data, copy.deepcopy(spec)), tmp_path, device="cpu")
    trainer.train_step()
    logged = {k: float(v) / trainer.log._counts[k] for k, v in trainer.log._sums.items()}
    named = trainer.gan.named_parameters()
    grads = {n: p.grad.clone() for n, p in named if p.grad is not None}
    return trainer, logged, grads


@pytest.mark.parametrize("route", ["no-gan", "image-gan"])
def test_a_channels_last_step_computes_the_contiguous_step(tiny_data, tmp_path, route):
    """The same seed gives the same loss terms and gradients in either layout (within float
    rounding: only the order of the convolutions' sums differs; the biases of convolutions
    before batch norm have gradients of rounding size only, hence an absolute tolerance)."""
    plain, plain_terms, plain_grads = _step(
        tiny_data, tmp_path / "plain", _recogniser_spec(tiny_data.root, False, route)
    )
    last, last_terms, last_grads = _step(
        tiny_data, tmp_path / "last", _recogniser_spec(tiny_data.root, True, route)
    )
    conv = last.gan.discriminator.trunk.blocks[1].conv
    weight = conv.weight if route == "no-gan" else conv.parametrizations.weight.original
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert plain.gan.discriminator.trunk.blocks[1].conv.weight.is_contiguous()
    assert last.feed.draw().real.is_contiguous(memory_format=torch.channels_last)
    assert plain_terms.keys() == last_terms.keys() and "d/cosine_softmax" in last_terms
    assert plain_grads.keys() == last_grads.keys() and "discriminator.trunk.blocks.0.conv" in str(
        list(last_grads)
    )
    for key, value in plain_terms.items():
        assert last_terms[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    for name, grad in plain_grads.items():
        torch.testing.assert_close(last_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_the_paper_trunk_trains_in_channels_last(tiny_data, tmp_path):
    """Spectral norm, instance norm and self-attention run in channels_last too."""
    import yaml

    spec = _recogniser_spec(tiny_data.root, True)
    spec["model"]["trunk"]["params"] |= yaml.safe_load(PAPER_TRUNK) | {"attention_at": [-1]}
    plain = copy.deepcopy(spec)
    plain["train"]["channels_last"] = False
    _, last_terms, last_grads = _step(tiny_data, tmp_path / "last", spec)
    _, plain_terms, plain_grads = _step(tiny_data, tmp_path / "plain", plain)
    assert plain_grads.keys() == last_grads.keys()
    for key, value in plain_terms.items():
        assert last_terms[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    for name, grad in plain_grads.items():
        torch.testing.assert_close(last_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_adam_moments_loaded_from_a_checkpoint_take_their_parameters_layout():
    """A checkpoint stores the moments contiguous; fused Adam reads a parameter and its moments
    as flat buffers, so the loaded moments must be laid out like the parameter: the step after
    a round trip through the checkpoint's form equals the step without one."""
    torch.manual_seed(0)
    start = torch.randn(4, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    grads = [torch.randn(4, 3, 2, 2).contiguous(memory_format=torch.channels_last) for _ in "ab"]
    params, optimizers = [], []
    for _ in range(2):
        param = torch.nn.Parameter(start.clone())
        params.append(param)
        optimizers.append(torch.optim.Adam([param], lr=0.1, fused=True))
    for param, optimizer in zip(params, optimizers, strict=True):
        param.grad = grads[0]
        optimizer.step()
    tensors, meta = split_optimizer_state(optimizers[1], "d")
    tensors = {name: value.contiguous() for name, value in tensors.items()}  # as stored
    join_optimizer_state(optimizers[1], tensors, meta, "d")
    moment = optimizers[1].state[params[1]]["exp_avg"]
    assert moment.is_contiguous(memory_format=torch.channels_last)
    for param, optimizer in zip(params, optimizers, strict=True):
        param.grad = grads[1]
        optimizer.step()
    assert torch.equal(params[0].detach(), params[1].detach())
