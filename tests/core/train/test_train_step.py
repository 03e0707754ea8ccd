"""The step context: sampled targets, cached lazy quantities, targets, noise, and clear errors."""

from __future__ import annotations

import pytest
import torch

from tests.tiny_runs import make_build, spec_dict
from zsk.core.build.step import FakeImages, PhaseContext, Regularizers, draw_batch, evaluate_terms
from zsk.core.spec.sections import LabelSmoothingSpec
from zsk.registry import UserError


def _batch(build, size=6, negative_fraction=0.5):
    real = torch.rand(size, 3, 16, 16) * 2 - 1
    own = torch.arange(size) % build.dims.num_seen_classes
    attributes = build.data.attributes[build.data.seen].float()
    return draw_batch(
        real, own, attributes, negative_fraction=negative_fraction, noise_dim=build.dims.noise_dim
    )


@pytest.fixture
def build(tiny_data):
    return make_build(tiny_data, spec_dict(tiny_data.root))


def _context(build, phase="discriminator", batch=None, regularizers=None):
    batch = batch or _batch(build)
    fakes = FakeImages(build.gan, batch, keep_graph=True)
    return PhaseContext(phase, build.gan, batch, fakes, regularizers or Regularizers())


def test_targets_are_own_class_or_another_seen_class(build):
    torch.manual_seed(0)
    positive = _batch(build, size=64, negative_fraction=0.0)
    assert torch.equal(positive.target, positive.own)
    negative = _batch(build, size=64, negative_fraction=1.0)
    assert torch.equal(negative.target, negative.other)
    assert (negative.other != negative.own).all()
    assert ((negative.other >= 0) & (negative.other < build.dims.num_seen_classes)).all()
    mixed = _batch(build, size=2000, negative_fraction=0.25)
    share = (mixed.target != mixed.own).float().mean().item()
    assert abs(share - 0.25) < 0.04


def test_attributes_and_semantic_embeddings_follow_the_labels(build):
    ctx = _context(build)
    table = build.data.attributes[build.data.seen].float()
    assert torch.equal(ctx.attributes("other"), table[ctx.labels("other")])
    expected = build.gan.semantic_encoder(table[ctx.labels("own")])
    assert torch.allclose(ctx.semantic("own"), expected)
    with pytest.raises(UserError, match="labels 'mine'"):
        ctx.labels("mine")


def test_each_quantity_is_computed_once(build):
    calls = []
    handle = build.gan.discriminator.trunk.register_forward_hook(lambda *a: calls.append(1))
    ctx = _context(build)
    first = ctx.head("real_fake", "real")
    assert ctx.head("real_fake", "real") is first
    ctx.head("embedding", "real")
    ctx.class_logits("real")
    assert len(calls) == 1
    ctx.head("embedding", "fake")
    assert len(calls) == 2
    handle.remove()


def test_fakes_are_detached_for_the_discriminator_and_shared_with_the_generator(build):
    batch = _batch(build)
    fakes = FakeImages(build.gan, batch, keep_graph=True)
    d_ctx = PhaseContext("discriminator", build.gan, batch, fakes)
    g_ctx = PhaseContext("generator", build.gan, batch, fakes)
    assert not d_ctx.fake().requires_grad
    assert g_ctx.fake().requires_grad
    assert torch.equal(d_ctx.fake(), g_ctx.fake())
    table = build.data.attributes[build.data.seen].float()
    build.gan.eval()
    expected = build.gan.generator(table[batch.target], images=batch.real)
    eval_fakes = FakeImages(build.gan, batch, keep_graph=False).get()
    assert torch.allclose(eval_fakes, expected)
    assert not eval_fakes.requires_grad


def test_reconstruction_decodes_the_discriminator_features_of_real_images(build):
    build.gan.eval()  # no power iteration: the same weights for both computations
    ctx = _context(build)
    d = build.gan.discriminator
    expected = build.gan.generator.decode_features(
        d.heads["reconstruction_feature"](d.trunk(ctx.real()))
    )
    assert torch.allclose(ctx.reconstruction(), expected)


def test_instance_noise_reaches_every_image_the_discriminator_sees(build):
    build.gan.eval()
    batch = _batch(build)
    trunk, head = build.gan.discriminator.trunk, build.gan.discriminator.heads["real_fake"]
    clean = _context(build, batch=batch)
    assert torch.allclose(clean.head("real_fake", "real"), head(trunk(batch.real)))
    noisy = _context(build, batch=batch, regularizers=Regularizers(noise_std=0.5))
    assert not torch.allclose(noisy.head("real_fake", "real"), head(trunk(batch.real)))
    assert not torch.allclose(noisy.score(batch.real), head(trunk(batch.real)))


def test_smoothed_targets_lie_in_their_ranges_and_flip_swaps_them(build):
    smoothing = LabelSmoothingSpec(real=(0.7, 1.2), fake=(0.0, 0.3))
    real, fake = _context(build, regularizers=Regularizers(smoothing)).real_fake_targets()
    assert ((real >= 0.7) & (real <= 1.2)).all() and ((fake >= 0) & (fake <= 0.3)).all()
    assert real.shape == (6,)
    flipped = _context(build, regularizers=Regularizers(smoothing, flip_real_fake=1.0))
    real, fake = flipped.real_fake_targets()
    assert (real <= 0.3).all() and (fake >= 0.7).all()
    plain = _context(build).real_fake_targets()
    assert torch.equal(plain[0], torch.ones(6)) and torch.equal(plain[1], torch.zeros(6))
    assert _context(build).cosine_targets() == (1.0, 0.0)
    assert _context(build, regularizers=Regularizers(flip_cosine=1.0)).cosine_targets() == (0, 1)


def test_flip_probability_is_respected_per_batch(build):
    torch.manual_seed(1)
    flips = sum(
        _context(build, regularizers=Regularizers(flip_cosine=0.3)).cosine_targets() == (0, 1)
        for _ in range(2000)
    )
    assert abs(flips / 2000 - 0.3) < 0.04


def test_missing_head_is_a_user_error_naming_term_and_head(tiny_data):
    build = make_build(tiny_data, spec_dict(tiny_data.root, generator="tiny_noise"))
    ctx = _context(build)
    ctx.current_term = "my_term"
    with pytest.raises(UserError) as error:
        ctx.reconstruction()
    message = error.value.render()
    assert "my_term" in message and "'reconstruction_feature' head" in message
    assert "model.heads.reconstruction_feature" in message


def test_weighted_sum_of_terms(build):
    ctx = _context(build)
    result = evaluate_terms(ctx, build.objective)
    weights = {t.name: t.weight for t in build.objective.discriminator}
    expected = sum(weights[name] * value for name, value in result.terms.items())
    assert torch.allclose(result.total, expected)
    assert set(result.terms) == {"tiny_lsgan", "tiny_cosine"}


def _pointwise_heads_build(tiny_data, **real_fake):
    spec = spec_dict(tiny_data.root)
    pointwise = {"kernel_size": 1, "padding": 0}
    spec["model"]["heads"].update(
        real_fake={"type": "real_fake", "params": {**pointwise, **real_fake}},
        embedding={"type": "embedding", "params": pointwise},
        attribute={"type": "attribute", "params": pointwise},
    )
    return make_build(tiny_data, spec)


def test_heads_that_pool_read_one_mean_of_the_features(tiny_data):
    build = _pointwise_heads_build(tiny_data)
    heads = build.gan.discriminator.heads
    pooling = [role for role, head in heads.items() if head.pools_positions()]
    assert sorted(pooling) == ["attribute", "embedding", "real_fake"]
    ctx = _context(build)
    mean = ctx.features("real").detach().mean(dim=(2, 3))
    for role in pooling:
        conv = heads[role].conv
        expected = mean @ conv.weight.flatten(1).T + conv.bias
        judged = ctx.head(role, "real")
        assert torch.allclose(judged, expected.reshape(judged.shape), atol=1e-6)
    patches = _pointwise_heads_build(tiny_data, patch=True).gan.discriminator.heads
    assert not patches["real_fake"].pools_positions()  # a score per position reads every one


def test_the_trunk_gets_the_pooling_heads_gradient_as_one_broadcast(tiny_data):
    build = _pointwise_heads_build(tiny_data)
    ctx = _context(build)
    loss = ctx.head("embedding", "real").sum() + ctx.head("attribute", "real").square().sum()
    arrived = []
    ctx.features("real").register_hook(arrived.append)
    loss.backward()
    (gradient,) = arrived
    assert gradient.stride()[2:] == (0, 0)  # one (B, C) gradient broadcast over positions
    features = ctx.features("real").detach().requires_grad_(True)
    mean = features.mean(dim=(2, 3))
    heads = build.gan.discriminator.heads
    embedding, attribute = heads["embedding"].conv, heads["attribute"].conv
    formula = (mean @ embedding.weight.flatten(1).T + embedding.bias).sum() + (
        (mean @ attribute.weight.flatten(1).T + attribute.bias).square().sum()
    )
    (expected,) = torch.autograd.grad(formula, features)
    assert torch.allclose(gradient, expected, atol=1e-6)
