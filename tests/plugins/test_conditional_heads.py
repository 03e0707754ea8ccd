"""Conditional real/fake heads and gradient penalties: formulas, and the real trunk end to end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from zsk.core.build.composer import compose, load_data
from zsk.core.build.model import AuxiliaryTerm
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
    assert head.auxiliary_sources("discriminator") == ("real", "fake")
    assert head.auxiliary_sources("generator") == ("fake",)
    only_real = _head(ACGANHead, fakes=False)
    assert only_real.auxiliary_sources("discriminator") == ("real",)


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
    assert head.auxiliary_sources("discriminator") == ("real",)
    assert head.auxiliary_sources("generator") == ("fake",)


def test_a_head_without_its_own_term_declares_none_and_one_with_it_the_judged_sources():
    class Plain(ProjectionHead):
        pass

    class WithTerm(ProjectionHead):
        def auxiliary_loss(self, features, condition, phase, source):
            return features.mean()

    plain, with_term = _head(Plain), _head(WithTerm)
    assert [plain.auxiliary_sources(p) for p in ("discriminator", "generator")] == [(), ()]
    declared = [with_term.auxiliary_sources(p) for p in ("discriminator", "generator")]
    assert declared == [("real", "fake"), ("fake",)]


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


def _phase_context(build, phase="discriminator", seed=0):
    torch.manual_seed(seed)
    seen = build.data.attributes[build.data.seen].float()
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    own = torch.arange(4) % len(build.data.seen)
    batch = draw_batch(real, own, seen, negative_fraction=0.5, noise_dim=build.dims.noise_dim)
    fakes = FakeImages(build.gan, batch, keep_graph=phase == "generator")
    return PhaseContext(phase, build.gan, batch, fakes)


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
    ctx = _phase_context(build)
    ctx.current_term = penalty
    term = next(t for t in build.objective.discriminator if t.name == penalty)
    value = term.loss(ctx)
    assert torch.isfinite(value) and value.item() > 0
    value.backward()
    for conv in (attention.f, attention.g, attention.h):
        weight = conv.parametrizations.weight.original
        assert weight.grad is not None and weight.grad.abs().sum() > 0


def _cross_entropy_by_hand(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mean over images of log Σ_c exp(z_c) − z_y."""
    rows = [torch.logsumexp(row, 0) - row[y] for row, y in zip(logits, labels, strict=True)]
    return torch.stack(rows).mean()


def test_a_heads_own_terms_are_the_ones_it_declares_whatever_the_phase_judged(shapes, tiny_shapes):
    """AC-GAN without ``fakes``: D's lsgan judges real and fake images with the head, but the
    head declares its classifier's term on real images only; G's term is on the fakes."""
    overrides = ("model.heads.real_fake.type=acgan", "model.heads.real_fake.params.fakes=false")
    build = _build(shapes, tiny_shapes, *overrides)
    assert build.objective.auxiliary == {
        "discriminator": [AuxiliaryTerm("real_fake", "real")],
        "generator": [AuxiliaryTerm("real_fake", "fake")],
    }
    head = build.gan.discriminator.heads["real_fake"]
    weight, bias = head.classifier.weight, head.classifier.bias
    for phase, source, classes in (
        ("discriminator", "real", "own"),
        ("generator", "fake", "target"),
    ):
        ctx = _phase_context(build, phase)
        result = evaluate_terms(ctx, build.objective)
        auxiliary = result.terms["heads.real_fake.auxiliary"]
        named = sum(t.weight * result.terms[t.name] for t in getattr(build.objective, phase))
        torch.testing.assert_close(result.total, named + auxiliary)
        h = ctx.features(source).mean(dim=(2, 3))  # the head's pooled features
        by_hand = _cross_entropy_by_hand(h @ weight.T + bias, ctx.labels(classes))
        torch.testing.assert_close(auxiliary, by_hand)


def test_a_contrastive_heads_term_joins_each_phase_on_its_declared_source(shapes, tiny_shapes):
    build = _build(shapes, tiny_shapes, "model.heads.real_fake.type=contrastive")
    assert build.objective.auxiliary == {
        "discriminator": [AuxiliaryTerm("real_fake", "real")],
        "generator": [AuxiliaryTerm("real_fake", "fake")],
    }
    head = build.gan.discriminator.heads["real_fake"]
    for phase, source, classes in (
        ("discriminator", "real", "own"),
        ("generator", "fake", "target"),
    ):
        ctx = _phase_context(build, phase)
        auxiliary = evaluate_terms(ctx, build.objective).terms["heads.real_fake.auxiliary"]
        images = head.project(ctx.features(source).mean(dim=(2, 3))).detach()
        semantic = ctx.semantic(classes).detach()
        by_hand = _two_c_by_hand(images, semantic, ctx.labels(classes).tolist(), 1.0)
        assert auxiliary.item() == pytest.approx(by_hand, rel=1e-4)


def test_a_build_without_a_heads_own_term_declares_none(shapes, tiny_shapes):
    build = _build(shapes, tiny_shapes)
    assert build.objective.auxiliary == {"discriminator": [], "generator": []}
    result = evaluate_terms(_phase_context(build), build.objective)
    assert not any(name.startswith("heads.") for name in result.terms)


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
