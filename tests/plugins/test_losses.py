"""The built-in losses against independently written formulas, on ToyStep's random tensors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from zsk.core.components.interfaces import Loss
from zsk.plugins.builtin import losses
from zsk.registry import UserError, get_registry
from zsk.testing.toy_step import TOY_DIMS, ToyStep, check_loss

#: losses over feature vectors (plugins/builtin/feature_losses.py)
FEATURE_LOSSES = {"pretrained_classifier"}

PATCHES = pytest.mark.parametrize("patch_size", [None, 2], ids=["per-image", "patch"])


def build(cls: type[Loss], step: ToyStep, **params) -> Loss:
    return cls(cls.Params(**params), dims=step.dims)


def by_sample(scores: torch.Tensor) -> list[torch.Tensor]:
    """Each sample's scores as a flat vector (one value, or the patches)."""
    return [scores[i].reshape(-1) for i in range(scores.shape[0])]


def mean_over(values: list[torch.Tensor]) -> torch.Tensor:
    """Mean over samples and, within each, over patches (all samples have equal patch counts)."""
    return torch.stack([v.mean() for v in values]).mean()


def hand_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dots = (a * b).sum(dim=1)
    return dots / (torch.sqrt((a * a).sum(dim=1)) * torch.sqrt((b * b).sum(dim=1)))


def hand_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    terms = []
    for row, label in zip(logits, labels, strict=True):
        terms.append(torch.log(torch.exp(row).sum()) - row[label])
    return torch.stack(terms).mean()


def softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + torch.exp(x))


# -- adversarial ---------------------------------------------------------------------------------


@PATCHES
def test_lsgan_matches_formula(patch_size):
    step = ToyStep("discriminator", patch_size=patch_size)
    real = by_sample(step.head("real_fake", "real").detach())
    fake = by_sample(step.head("real_fake", "fake").detach())
    expected_d = mean_over([(1 - r) ** 2 for r in real]) + mean_over([f**2 for f in fake])
    torch.testing.assert_close(build(losses.LSGAN, step)(step), expected_d)

    step.phase = "generator"
    expected_g = mean_over([(1 - f) ** 2 for f in fake])
    torch.testing.assert_close(build(losses.LSGAN, step)(step), expected_g)


@PATCHES
def test_lsgan_honours_smoothed_targets(patch_size):
    t_real = torch.tensor([0.7, 0.9, 1.1, 1.25])
    t_fake = torch.tensor([0.0, 0.1, 0.2, 0.25])
    step = ToyStep(patch_size=patch_size, real_fake_targets=(t_real, t_fake))
    real = by_sample(step.head("real_fake", "real").detach())
    fake = by_sample(step.head("real_fake", "fake").detach())
    expected = mean_over([(t_real[i] - r) ** 2 for i, r in enumerate(real)]) + mean_over(
        [(t_fake[i] - f) ** 2 for i, f in enumerate(fake)]
    )
    value = build(losses.LSGAN, step)(step)
    torch.testing.assert_close(value, expected)
    plain = ToyStep(patch_size=patch_size)
    assert not torch.isclose(value, build(losses.LSGAN, plain)(plain))


def test_lsgan_generator_pushes_fake_scores_towards_one():
    step = ToyStep("generator")
    fake = step.head("real_fake", "fake")
    (gradient,) = torch.autograd.grad(build(losses.LSGAN, step)(step), fake)
    moved = fake.detach() - 0.1 * gradient
    assert ((1 - moved).abs() < (1 - fake.detach()).abs()).all()


@PATCHES
def test_hinge_matches_formula(patch_size):
    step = ToyStep("discriminator", patch_size=patch_size)
    real = by_sample(step.head("real_fake", "real").detach())
    fake = by_sample(step.head("real_fake", "fake").detach())
    expected_d = mean_over([torch.clamp(1 - r, min=0) for r in real]) + mean_over(
        [torch.clamp(1 + f, min=0) for f in fake]
    )
    torch.testing.assert_close(build(losses.Hinge, step)(step), expected_d)

    step.phase = "generator"
    torch.testing.assert_close(build(losses.Hinge, step)(step), -mean_over(fake))


@PATCHES
def test_non_saturating_matches_formula(patch_size):
    step = ToyStep("discriminator", patch_size=patch_size)
    real = by_sample(step.head("real_fake", "real").detach())
    fake = by_sample(step.head("real_fake", "fake").detach())
    expected_d = mean_over([softplus(-r) for r in real]) + mean_over([softplus(f) for f in fake])
    torch.testing.assert_close(build(losses.NonSaturating, step)(step), expected_d)

    step.phase = "generator"
    expected_g = mean_over([softplus(-f) for f in fake])
    torch.testing.assert_close(build(losses.NonSaturating, step)(step), expected_g)


def test_non_saturating_uses_soft_targets_as_probabilities():
    t_real = torch.tensor([0.75, 1.0, 0.9, 0.8])
    t_fake = torch.tensor([0.0, 0.25, 0.1, 0.2])
    step = ToyStep(real_fake_targets=(t_real, t_fake))
    real = step.head("real_fake", "real").detach()
    fake = step.head("real_fake", "fake").detach()

    def bce(logit, target):
        p = 1 / (1 + torch.exp(-logit))
        return -(target * torch.log(p) + (1 - target) * torch.log(1 - p))

    expected = bce(real, t_real).mean() + bce(fake, t_fake).mean()
    torch.testing.assert_close(build(losses.NonSaturating, step)(step), expected)


def linear_score(direction: torch.Tensor, patch_size: int | None = None):
    """A score whose gradient with respect to every image is ``direction`` (every patch alike)."""

    def score(images: torch.Tensor) -> torch.Tensor:
        values = images.flatten(1) @ direction
        if patch_size:
            return values.reshape(-1, 1, 1, 1).expand(-1, 1, patch_size, patch_size)
        return values

    return score


def direction_of_norm(norm: float) -> torch.Tensor:
    direction = torch.randn(TOY_DIMS.channels * TOY_DIMS.image_size**2)
    return norm * direction / torch.sqrt((direction**2).sum())


@PATCHES
def test_wgan_gp_penalty_is_zero_for_unit_gradient_norm(patch_size):
    step = ToyStep(patch_size=patch_size, score=linear_score(direction_of_norm(1.0), patch_size))
    critic = mean_over(by_sample(step.head("real_fake", "fake").detach())) - mean_over(
        by_sample(step.head("real_fake", "real").detach())
    )
    torch.testing.assert_close(build(losses.WGANGP, step, lambda_gp=10.0)(step), critic)


def test_wgan_gp_penalty_is_squared_distance_of_gradient_norm_from_one():
    step = ToyStep(score=linear_score(direction_of_norm(3.0)))
    critic = step.head("real_fake", "fake").mean() - step.head("real_fake", "real").mean()
    value = build(losses.WGANGP, step, lambda_gp=2.5)(step)
    torch.testing.assert_close(value, critic.detach() + 2.5 * (3.0 - 1.0) ** 2)


def test_wgan_gp_penalty_is_positive_for_a_nonlinear_score_and_trains_the_critic():
    weight = torch.tensor(0.3, requires_grad=True)

    def score(images: torch.Tensor) -> torch.Tensor:
        return weight * (images**2).flatten(1).sum(dim=1)

    step = ToyStep(score=score)
    critic = step.head("real_fake", "fake").mean() - step.head("real_fake", "real").mean()
    value = build(losses.WGANGP, step, lambda_gp=1.0)(step)
    assert value.item() > critic.item() + 1e-3
    (gradient,) = torch.autograd.grad(value, weight)
    assert gradient.abs().item() > 0  # the penalty's graph was kept (create_graph)


def test_wgan_gp_generator_is_minus_mean_fake_score():
    step = ToyStep("generator")
    expected = -step.head("real_fake", "fake").detach().mean()
    torch.testing.assert_close(build(losses.WGANGP, step)(step), expected)


# -- the report's cosine terms -------------------------------------------------------------------


def test_cosine_real_matches_report_formula_with_defaults():
    step = ToyStep()
    phi = step.head("embedding", "real").detach()
    own = hand_cosine(phi, step.semantic("own").detach())
    other = hand_cosine(phi, step.semantic("other").detach())
    logits = step.class_logits("real").detach()
    expected = (
        ((1 - own) ** 2).mean()
        + 0.5 * (other**2).mean()
        + 1.0 * hand_cross_entropy(logits, step.labels("own"))
    )
    torch.testing.assert_close(build(losses.CosineReal, step)(step), expected)


def test_cosine_real_follows_flipped_targets_and_weights():
    step = ToyStep(cosine_targets=(0.0, 1.0), classifier=False)
    phi = step.head("embedding", "real").detach()
    own = hand_cosine(phi, step.semantic("own").detach())
    other = hand_cosine(phi, step.semantic("other").detach())
    expected = (own**2).mean() + 0.25 * ((1 - other) ** 2).mean()
    loss = build(losses.CosineReal, step, lambda_other=0.25, lambda_softmax=0.0)
    torch.testing.assert_close(loss(step), expected)


def test_cosine_real_with_softmax_needs_a_classifier():
    step = ToyStep(classifier=False)
    with pytest.raises(UserError, match="no seen-class classifier"):
        build(losses.CosineReal, step)(step)


def test_cosine_is_normalised_by_the_norm_not_its_square():
    """The notebook divided by ‖·‖²; a true cosine ignores the embeddings' scale."""
    step = ToyStep()
    phi = step.head("embedding", "real").detach()
    psi = step.semantic("own").detach()
    cosine = losses.cosine_similarity(10 * phi, psi)
    torch.testing.assert_close(cosine, hand_cosine(phi, psi))
    assert (cosine.abs() <= 1).all()


def test_cosine_fake_matches_formula():
    step = ToyStep()
    cos = hand_cosine(step.head("embedding", "fake").detach(), step.semantic("target").detach())
    torch.testing.assert_close(build(losses.CosineFake, step)(step), (cos**2).mean())


def test_cosine_generator_matches_formula():
    step = ToyStep("generator")
    cos = hand_cosine(step.head("embedding", "fake").detach(), step.semantic("target").detach())
    torch.testing.assert_close(build(losses.CosineGenerator, step)(step), ((1 - cos) ** 2).mean())


@pytest.mark.parametrize(
    ("cls", "phase", "better"),
    [
        (losses.CosineGenerator, "generator", lambda new, old: new > old),
        (losses.CosineFake, "discriminator", lambda new, old: new.abs() < old.abs()),
    ],
    ids=["generator-raises-cos", "fake-term-lowers-abs-cos"],
)
def test_one_sgd_step_on_fake_embeddings_moves_cosine_the_right_way(cls, phase, better):
    step = ToyStep(phase)
    phi = step.head("embedding", "fake")
    psi = step.semantic("target").detach()
    (gradient,) = torch.autograd.grad(build(cls, step)(step), phi)
    before = hand_cosine(phi.detach(), psi)
    after = hand_cosine(phi.detach() - 0.05 * gradient, psi)
    assert better(after, before).all()


# -- reconstruction, attributes, softmax ---------------------------------------------------------


def test_l1_reconstruction_is_a_per_pixel_mean():
    step = ToyStep("generator")
    diff = step.reconstruction().detach() - step.real().detach()
    expected = diff.abs().sum() / math.prod(diff.shape)
    torch.testing.assert_close(build(losses.L1Reconstruction, step)(step), expected)


@pytest.mark.parametrize(
    ("phase", "source", "which"),
    [("discriminator", "real", "own"), ("generator", "fake", "target")],
)
def test_attribute_is_mean_l2_norm_on_the_phase_images(phase, source, which):
    step = ToyStep(phase)
    predicted = step.head("attribute", source).detach()
    target = step.attributes(which).detach()
    norms = [torch.sqrt(((p - t) ** 2).sum()) for p, t in zip(predicted, target, strict=True)]
    torch.testing.assert_close(build(losses.AttributeLoss, step)(step), torch.stack(norms).mean())

    squared = ((predicted - target) ** 2).sum() / predicted.numel()
    torch.testing.assert_close(build(losses.AttributeLoss, step, squared=True)(step), squared)


def test_softmax_is_cross_entropy_of_real_class_logits():
    step = ToyStep()
    expected = hand_cross_entropy(step.class_logits("real").detach(), step.labels("own"))
    torch.testing.assert_close(build(losses.Softmax, step)(step), expected)


def test_cosine_softmax_is_cross_entropy_over_every_seen_class_cosine():
    step = ToyStep(batch_size=6)
    phi, seen = step.head("embedding", "real").detach(), step.semantic("seen").detach()
    logits = torch.stack(
        [
            torch.stack([3.0 * hand_cosine(phi[i : i + 1], seen[c : c + 1])[0] for c in range(5)])
            for i in range(6)
        ]
    )
    expected = hand_cross_entropy(logits, step.labels("own"))
    torch.testing.assert_close(build(losses.CosineSoftmax, step, scale=3.0)(step), expected)


def test_cosine_softmax_step_raises_the_own_class_cosine_against_the_others():
    step = ToyStep(batch_size=6)
    loss = build(losses.CosineSoftmax, step)(step)
    loss.backward()
    phi, seen = step.head("embedding", "real"), step.semantic("seen")
    own = step.labels("own")
    with torch.no_grad():
        before = hand_cosine(phi, seen[own]) - hand_cosine(phi, seen[(own + 1) % 5])
        moved_phi, moved_seen = phi - 0.5 * phi.grad, seen - 0.5 * seen.grad
        after = hand_cosine(moved_phi, moved_seen[own]) - hand_cosine(
            moved_phi, moved_seen[(own + 1) % 5]
        )
    assert after.mean() > before.mean()


# -- registration and the contract ---------------------------------------------------------------

EXPECTED = {
    "lsgan": ({"discriminator", "generator"}, {"real_fake"}),
    "hinge": ({"discriminator", "generator"}, {"real_fake"}),
    "non_saturating": ({"discriminator", "generator"}, {"real_fake"}),
    "wgan_gp": ({"discriminator", "generator"}, {"real_fake"}),
    "cosine_real": ({"discriminator"}, {"embedding"}),
    "cosine_fake": ({"discriminator"}, {"embedding"}),
    "cosine_generator": ({"generator"}, {"embedding"}),
    "l1_reconstruction": ({"generator"}, {"reconstruction_feature"}),
    "attribute": ({"discriminator", "generator"}, {"attribute"}),
    "softmax": ({"discriminator"}, {"embedding"}),
    "cosine_softmax": ({"discriminator"}, {"embedding"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_loss_is_registered_with_its_phases_and_roles(name):
    entry = get_registry().get("loss", name)
    phases, requires = EXPECTED[name]
    assert entry.plugin == "zsk.plugins.builtin.losses"
    assert entry.cls.phases == phases
    assert entry.cls.requires == requires


@pytest.mark.parametrize("entry", get_registry().list("loss"), ids=lambda entry: entry.name)
def test_registered_loss_meets_the_contract(entry):
    # a loss over feature vectors is checked on a feature data set's sizes
    features = dataclasses.replace(TOY_DIMS, feature_dim=12)
    check_loss(entry.cls, dims=features if entry.name in FEATURE_LOSSES else None)
