"""ToyStep provides the step context's quantities; check_loss catches each broken contract."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from pydantic import Field, ValidationError

from zsk.core.components.interfaces import Dims, Loss
from zsk.registry import UserError
from zsk.testing.errors import ContractError
from zsk.testing.toy_step import TOY_DIMS, ToyStep, check_loss

# -- ToyStep -------------------------------------------------------------------------------------


def test_shapes_ranges_and_leaves():
    dims = TOY_DIMS
    step = ToyStep(batch_size=3)
    image = (3, dims.channels, dims.image_size, dims.image_size)
    for images in (step.real(), step.fake(), step.reconstruction()):
        assert images.shape == image
        assert images.min() >= -1 and images.max() <= 1
        assert images.is_leaf and images.requires_grad
    for source in ("real", "fake"):
        assert step.head("real_fake", source).shape == (3,)
        assert step.head("attribute", source).shape == (3, dims.num_attributes)
        assert step.head("embedding", source).shape == (3, dims.embedding_dim)
        assert step.class_logits(source).shape == (3, dims.num_seen_classes)
        assert step.head("reconstruction_feature", source).shape[0] == 3
    for which in ("own", "other", "target"):
        assert step.semantic(which).shape == (3, dims.embedding_dim)
        assert step.attributes(which).shape == (3, dims.num_attributes)
    for which in ("own", "target"):
        labels = step.labels(which)
        assert labels.dtype == torch.long and labels.shape == (3,)
        assert labels.min() >= 0 and labels.max() < dims.num_seen_classes


def test_quantities_are_cached_like_the_real_step():
    step = ToyStep()
    assert step.head("embedding", "real") is step.head("embedding", "real")
    assert step.semantic("own") is step.semantic("own")
    assert step.head("embedding", "real") is not step.head("embedding", "fake")


def test_default_and_configured_targets():
    plain = ToyStep(batch_size=2)
    t_real, t_fake = plain.real_fake_targets()
    assert t_real.tolist() == [1.0, 1.0] and t_fake.tolist() == [0.0, 0.0]
    assert plain.cosine_targets() == (1.0, 0.0)
    smoothed = (torch.tensor([0.8, 1.2]), torch.tensor([0.1, 0.2]))
    step = ToyStep(batch_size=2, real_fake_targets=smoothed, cosine_targets=(0.0, 1.0))
    assert step.real_fake_targets() is smoothed
    assert step.cosine_targets() == (0.0, 1.0)


@pytest.mark.parametrize("patch_size", [None, 3])
def test_score_is_differentiable_and_shaped_like_the_real_fake_head(patch_size):
    step = ToyStep(patch_size=patch_size)
    images = step.real().detach().clone().requires_grad_(True)
    scores = step.score(images)
    assert scores.shape == step.head("real_fake", "real").shape
    (gradient,) = torch.autograd.grad(scores.sum(), images)
    assert gradient.abs().sum() > 0


def test_custom_score_replaces_the_default():
    step = ToyStep(score=lambda images: images.flatten(1).sum(dim=1))
    images = step.real()
    torch.testing.assert_close(step.score(images), images.flatten(1).sum(dim=1))


def test_records_what_was_read():
    step = ToyStep()
    step.head("embedding", "fake")
    step.semantic("target")
    step.reconstruction()
    assert set(step.read) == {"head(embedding, fake)", "semantic(target)", "reconstruction"}
    assert step.roles_read == {"embedding", "reconstruction_feature"}


def test_phase_is_settable_and_checked():
    step = ToyStep("discriminator")
    step.phase = "generator"
    assert step.phase == "generator"
    with pytest.raises(UserError, match="phase 'critic'"):
        ToyStep("critic")


def test_unknown_quantities_are_refused_with_the_choices():
    step = ToyStep()
    with pytest.raises(UserError, match="no head of role 'style'") as caught:
        step.head("style", "real")
    assert "extra_heads" in str(caught.value)
    with pytest.raises(UserError, match="'own', 'other', 'target'"):
        step.semantic("mine")
    with pytest.raises(UserError, match="'real', 'fake'"):
        step.head("embedding", "generated")


def test_extra_heads_and_missing_classifier():
    step = ToyStep(extra_heads={"style": (5,)}, classifier=False)
    assert step.head("style", "fake").shape == (4, 5)
    assert "style" in step.roles
    with pytest.raises(UserError, match="no seen-class classifier"):
        step.class_logits("real")


# -- check_loss ----------------------------------------------------------------------------------


class GoodLoss(Loss):
    """Squared embedding norm, scaled."""

    name = "test_good"
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    class Params(Loss.Params):
        scale: float = Field(1.0, gt=0, description="multiplier")

    def forward(self, step):
        return self.params.scale * (step.head("embedding", "fake") ** 2).mean()


def test_a_good_loss_passes_with_default_dict_or_model_params():
    check_loss(GoodLoss)
    check_loss(GoodLoss, {"scale": 2.0})
    check_loss(GoodLoss, GoodLoss.Params(scale=3.0), Dims(8, 3, 2, embedding_dim=4))


def test_params_are_validated_against_the_loss_model():
    with pytest.raises(ValidationError, match="scale"):
        check_loss(GoodLoss, {"scale": -1.0})
    with pytest.raises(ValidationError, match="unknown"):
        check_loss(GoodLoss, {"unknown": 1})


class VectorLoss(GoodLoss):
    """Returns one value per sample."""

    name = "test_vector"

    def forward(self, step):
        return (step.head("embedding", "fake") ** 2).mean(dim=1)


class ConstantLoss(GoodLoss):
    """Returns a constant."""

    name = "test_constant"

    def forward(self, step):
        step.head("embedding", "fake")
        return torch.tensor(1.0)


class NanLoss(GoodLoss):
    """Returns NaN."""

    name = "test_nan"

    def forward(self, step):
        return step.head("embedding", "fake").sum() * float("nan")


class UndeclaredRoleLoss(GoodLoss):
    """Reads the attribute head without requiring it."""

    name = "test_undeclared"

    def forward(self, step):
        return step.head("attribute", "real").mean() + step.head("embedding", "real").mean()


class StyleLoss(GoodLoss):
    """Needs a head role of its own."""

    name = "test_style"
    requires: ClassVar[frozenset[str]] = frozenset({"style"})

    def forward(self, step):
        return step.head("style", "fake").abs().mean()


class NoPhaseLoss(GoodLoss):
    """Claims an objective that does not exist."""

    name = "test_no_phase"
    phases: ClassVar[frozenset[str]] = frozenset({"critic"})


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (VectorLoss, "0-dim tensor"),
        (ConstantLoss, "does not depend on anything it read"),
        (NanLoss, "loss is nan"),
        (UndeclaredRoleLoss, r"reads head roles \['attribute'\] not listed in `requires`"),
        (StyleLoss, r"requires head roles \['style'\] that ToyStep does not provide"),
        (NoPhaseLoss, "must be a non-empty subset"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_a_broken_loss_fails_the_contract_saying_why(cls, message):
    with pytest.raises(ContractError, match=message):
        check_loss(cls)


def test_extra_heads_let_a_loss_with_its_own_role_pass():
    check_loss(StyleLoss, extra_heads={"style": (3,)})


def test_contract_tries_patch_shaped_real_fake_scores():
    class PerImageOnlyLoss(GoodLoss):
        """Assumes (B,) scores."""

        name = "test_per_image"
        requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

        def forward(self, step):
            scores = step.head("real_fake", "real")
            return (scores * torch.ones(scores.shape[0])).mean() if scores.dim() == 1 else scores

    with pytest.raises(ContractError, match=r"real/fake scores \(B, 1, 2, 2\)"):
        check_loss(PerImageOnlyLoss)
