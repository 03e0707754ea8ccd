"""Conditional real/fake heads and gradient penalties: formulas, and the real trunk end to end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from zsk.core.build.composer import compose, load_data
from zsk.core.build.step import FakeImages, PhaseContext, draw_batch, evaluate_terms
from zsk.core.components.interfaces import Condition, Dims, Loss
from zsk.core.data.synth import synthesize
from zsk.core.spec.loading import load_spec
from zsk.plugins.builtin.conditional_heads import ACGANHead, ContrastiveHead, ProjectionHead
from zsk.plugins.builtin.heads import AttributeHead
from zsk.plugins.builtin.losses import R1, R2
from zsk.registry import UserError
from zsk.testing.toy_step import ToyStep

DIMS = Dims(image_size=16, num_attributes=5, num_seen_classes=3, embedding_dim=4)
IN_SHAPE = (6, 2, 2)
PLAIN = {"weight_norm": {"type": "none"}}


def _head(cls, **params):
    torch.manual_seed(0)
    return cls(cls.Params.model_validate({**PLAIN, **params}), dims=DIMS, in_shape=IN_SHAPE)


def _condition(batch=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return Condition(
        torch.rand(batch, DIMS.num_attributes, generator=generator),
        torch.tensor([0, 1, 0, 2, 1][:batch]),
        torch.randn(batch, DIMS.embedding_dim, generator=generator),
    )


def test_projection_is_a_linear_score_plus_the_projected_attributes_inner_product():
    head = _head(ProjectionHead)
    features, condition = torch.randn(5, *IN_SHAPE), _condition()
    h = features.mean(dim=(2, 3))
    w, b, v = head.score.weight[0], head.score.bias[0], head.embed.weight  # v: (C, A)
    expected = torch.stack([h[i] @ w + b + h[i] @ (v @ condition.attributes[i]) for i in range(5)])
    torch.testing.assert_close(head.judge(features, condition), expected)


def test_acgan_adds_its_classifiers_cross_entropy_where_acgan_trains_it():
    head = _head(ACGANHead, weight=0.5)
    features, condition = torch.randn(5, *IN_SHAPE), _condition()
    logits = head.classifier(features.mean(dim=(2, 3)))
    expected = (
        0.5
        * torch.stack(
            [
                torch.logsumexp(row, 0) - row[y]
                for row, y in zip(logits, condition.labels, strict=True)
            ]
        ).mean()
    )
    for phase, source in (
        ("discriminator", "real"),
        ("discriminator", "fake"),
        ("generator", "fake"),
    ):
        value = head.auxiliary_loss(features, condition, phase, source)
        torch.testing.assert_close(value, expected)
    only_real = _head(ACGANHead, fakes=False)
    assert only_real.auxiliary_loss(features, condition, "discriminator", "fake") is None


def _two_c_by_hand(images, classes, labels, t):
    """ContraGAN's equation, term by term, with Python loops."""
    total = 0.0
    for i in range(len(images)):
        li = images[i] / images[i].norm()
        to_class = math.exp(float(li @ (classes[i] / classes[i].norm())) / t)
        positives = negatives = 0.0
        for k in range(len(images)):
            if k == i:
                continue
            term = math.exp(float(li @ (images[k] / images[k].norm())) / t)
            negatives += term
            positives += term if labels[k] == labels[i] else 0.0
        total += -math.log((to_class + positives) / (to_class + negatives))
    return total / len(images)


def test_contrastive_head_adds_the_2c_loss_on_reals_for_d_and_fakes_for_g():
    head = _head(ContrastiveHead, weight=2.0, temperature=0.5)
    features, condition = torch.randn(5, *IN_SHAPE), _condition()
    images = head.project(features.mean(dim=(2, 3))).detach()
    expected = 2.0 * _two_c_by_hand(images, condition.semantic, condition.labels.tolist(), 0.5)
    for phase, source in (("discriminator", "real"), ("generator", "fake")):
        value = head.auxiliary_loss(features, condition, phase, source)
        assert value.item() == pytest.approx(expected, rel=1e-5)
    assert head.auxiliary_loss(features, condition, "discriminator", "fake") is None


@pytest.mark.parametrize("cls, source", [(R1, "real"), (R2, "fake")])
def test_r1_and_r2_are_half_gamma_times_the_squared_input_gradient_norm(cls, source):
    direction = torch.randn(3 * 16 * 16)
    step = ToyStep(score=lambda images: images.flatten(1) @ direction)
    value = cls(cls.Params(gamma=4.0), dims=step.dims)(step)
    torch.testing.assert_close(value, 0.5 * 4.0 * direction.square().sum())
    assert source in step.read


# -- through the real trunk -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    synthesize(root, classes=14, unseen=2, images_per_class=2, min_size=16, max_size=20)
    return root


def _build(shapes: Path, tiny_shapes, *overrides: str):
    sets = (f"data.params.root={shapes}", *tiny_shapes, *overrides)
    spec = load_spec(Path("examples/shapes.yaml"), sets)
    return compose(spec, load_data(spec))


def _discriminator_phase(build, seed=0):
    torch.manual_seed(seed)
    seen = build.data.attributes[build.data.seen].float()
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    own = torch.arange(4) % len(build.data.seen)
    batch = draw_batch(real, own, seen, negative_fraction=0.5, noise_dim=build.dims.noise_dim)
    fakes = FakeImages(build.gan, batch, keep_graph=False)
    return PhaseContext("discriminator", build.gan, batch, fakes)


CONDITIONED = ["projection", "acgan", "contrastive"]
PENALTIES = ["r1", "r2", "wgan_gp"]


@pytest.mark.parametrize("head", CONDITIONED)
@pytest.mark.parametrize("penalty", PENALTIES)
def test_penalties_train_the_critic_through_the_trunk_with_attention(
    shapes, tiny_shapes, head, penalty
):
    objective = "[{type: hinge}, {type: " + penalty + "}]"
    build = _build(
        shapes,
        tiny_shapes,
        f"model.heads.real_fake.type={head}",
        f"objective.discriminator={objective}",
        "model.trunk.params.attention_at=[-1]",
    )
    attention = build.gan.discriminator.trunk.blocks[-1].attn
    with torch.no_grad():
        attention.gamma.fill_(0.5)  # let attention act, so the penalty's gradient passes it
    ctx = _discriminator_phase(build)
    ctx.current_term = penalty
    term = next(t for t in build.objective.discriminator if t.name == penalty)
    value = term.loss(ctx)
    assert torch.isfinite(value) and value.item() > 0
    value.backward()
    for conv in (attention.f, attention.g, attention.h):
        weight = conv.parametrizations.weight.original
        assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_an_auxiliary_term_joins_the_phase_objective(shapes, tiny_shapes):
    build = _build(shapes, tiny_shapes, "model.heads.real_fake.type=acgan")
    ctx = _discriminator_phase(build)
    result = evaluate_terms(ctx, build.objective.discriminator)
    auxiliary = result.terms["heads.real_fake.auxiliary"]
    terms = [t for t in build.objective.discriminator]
    named = sum(t.weight * result.terms[t.name] for t in terms)
    torch.testing.assert_close(result.total, named + auxiliary)
    head = build.gan.discriminator.heads["real_fake"]
    assert {("real_fake", "real"), ("real_fake", "fake")} <= set(ctx.judged)
    features = {s: ctx.features(s) for s in ("real", "fake")}
    by_hand = sum(
        torch.nn.functional.cross_entropy(head.classifier(f.mean(dim=(2, 3))), ctx.labels(w))
        for f, w in ((features["real"], "own"), (features["fake"], "target"))
    )
    torch.testing.assert_close(auxiliary, by_hand)


class _ConditionalAttributes(AttributeHead):
    """Attributes told the class (a head evaluation could not call)."""

    name = "told_attributes_test"
    condition = frozenset({"attributes"})

    def forward(self, features, condition):
        return super().forward(features) + condition.attributes


def test_a_conditional_head_where_evaluation_reads_unconditionally_is_refused(
    shapes, tiny_shapes, add_components
):
    add_components(_ConditionalAttributes, name="told")
    with pytest.raises(UserError, match="evaluation and generation call the attribute head"):
        _build(shapes, tiny_shapes, "model.heads.attribute.type=told_attributes_test")


class _LearnedTemperature(Loss):
    """Hinge with a learned temperature (which nothing would optimise)."""

    name = "learned_temperature_test"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        self.temperature = torch.nn.Parameter(torch.ones(()))

    def forward(self, step):
        return -step.head("real_fake", "fake").mean() * self.temperature


def test_a_loss_with_trainable_parameters_is_refused(shapes, tiny_shapes, add_components):
    add_components(_LearnedTemperature, name="lt")
    with pytest.raises(UserError, match=r"has trainable parameters \(temperature\)"):
        _build(shapes, tiny_shapes, "objective.generator=[{type: learned_temperature_test}]")
