"""Built-in loss terms: the report's losses and the usual adversarial alternatives.

Every term reads what it needs from the step context
(:class:`zsk.core.components.interfaces.StepContext`) and returns a scalar, reduced by a mean over
the batch (and over patches for patch-shaped real/fake scores).

The gradient penalties on the critic (R1, R2 — Mescheder et al. 2018 — and WGAN-GP's)
differentiate the real/fake head's score of some images — through the spec's real trunk and
head, conditional or not — with respect to those images, keeping the graph
(``create_graph=True``) so that the penalty's own gradient trains the critic. ``step.score``
runs the critic inside :func:`zsk.core.components.interfaces.second_order`, so components with fused
kernels (the SAGAN attention) take a path that can be differentiated twice.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field

from zsk.core.components.interfaces import Loss, StepContext
from zsk.registry import hookimpl

DISCRIMINATOR_ONLY = frozenset({"discriminator"})
GENERATOR_ONLY = frozenset({"generator"})
BOTH_PHASES = frozenset({"discriminator", "generator"})


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine similarity ``a·b / (‖a‖₂‖b‖₂)`` of two (B, E) tensors, shape (B,).

    The report's notebook divided its embeddings by the *squared* L2 norm, so its "cosine" was
    not bounded by 1 and shrank with the embeddings' size; this is the cosine proper.
    """
    norms = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    return (a * b).sum(dim=-1) / norms.clamp_min(eps)


def per_sample(targets: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per-sample ``targets`` (B,) shaped to broadcast against scores (B,) or (B, 1, h, w)."""
    return targets.reshape(-1, *([1] * (scores.dim() - 1))).to(scores.dtype)


class LSGAN(Loss):
    """Least-squares adversarial loss (the report's choice); honours smoothed/flipped targets.

    D: ``mean((t_real − D(x))²) + mean((t_fake − D(x̂))²)``, with (t_real, t_fake) the step's
    real/fake targets (1 and 0 unless the spec smooths or flips labels).
    G: ``mean((1 − D(x̂))²)``.
    """

    name = "lsgan"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step: StepContext) -> torch.Tensor:
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            return ((1.0 - fake) ** 2).mean()
        real = step.head("real_fake", "real")
        t_real, t_fake = step.real_fake_targets()
        return ((per_sample(t_real, real) - real) ** 2).mean() + (
            (per_sample(t_fake, fake) - fake) ** 2
        ).mean()


class Hinge(Loss):
    """Hinge adversarial loss (SAGAN, BigGAN). Ignores label smoothing and flipping.

    D: ``mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))``; G: ``−mean(D(x̂))``. Its targets are
    margins, not labels, so the step's smoothed or flipped real/fake targets do not apply.
    """

    name = "hinge"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step: StepContext) -> torch.Tensor:
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            return -fake.mean()
        real = step.head("real_fake", "real")
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


class NonSaturating(Loss):
    """Non-saturating adversarial loss (Goodfellow et al. 2014), softplus form on logits.

    D: binary cross-entropy of the logits against the step's real/fake targets,
    ``mean(t·softplus(−D) + (1 − t)·softplus(D))`` over real and over fake images, which is
    ``mean(softplus(−D(x))) + mean(softplus(D(x̂)))`` for plain targets 1 and 0.
    G: ``mean(softplus(−D(x̂)))``.
    """

    name = "non_saturating"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    def forward(self, step: StepContext) -> torch.Tensor:
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            return F.softplus(-fake).mean()
        real = step.head("real_fake", "real")
        t_real, t_fake = step.real_fake_targets()
        real_term = F.binary_cross_entropy_with_logits(
            real, per_sample(t_real, real).expand_as(real)
        )
        fake_term = F.binary_cross_entropy_with_logits(
            fake, per_sample(t_fake, fake).expand_as(fake)
        )
        return real_term + fake_term


def input_gradient_norms(step: StepContext, images: torch.Tensor, which: str) -> torch.Tensor:
    """``‖∇ₓ D(x | class)‖₂`` per image (B,), for the critic's score of ``images`` told the
    ``which`` classes; per-patch scores are averaged per image first."""
    images = images.detach().requires_grad_(True)
    scores = step.score(images, which).reshape(images.shape[0], -1).mean(dim=1)
    (gradient,) = torch.autograd.grad(scores.sum(), images, create_graph=True)
    return torch.linalg.vector_norm(gradient.flatten(1), dim=1)


def interpolation_penalty(step: StepContext) -> torch.Tensor:
    """WGAN-GP's ``mean((‖∇ D(mix)‖₂ − 1)²)`` over random real/fake interpolations, each mix
    told its real image's class."""
    real, fake = step.real().detach(), step.fake().detach()
    shape = (real.shape[0], *([1] * (real.dim() - 1)))
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype)
    norms = input_gradient_norms(step, alpha * real + (1.0 - alpha) * fake, "own")
    return ((norms - 1.0) ** 2).mean()


class _ZeroCentredPenalty(Loss):
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})
    source: ClassVar[str] = ""

    class Params(Loss.Params):
        gamma: float = Field(10.0, ge=0, description="weight γ of the penalty, γ/2·E‖∇D‖²")

    def forward(self, step: StepContext) -> torch.Tensor:
        if self.source == "real":
            images, which = step.real(), "own"
        else:
            images, which = step.fake(), "target"
        return 0.5 * self.params.gamma * (input_gradient_norms(step, images, which) ** 2).mean()


class R1(_ZeroCentredPenalty):
    """R1 penalty: ``γ/2 · mean ‖∇ₓ D(x)‖²`` on real images (Mescheder et al. 2018).

    Pushes the critic's gradient to zero on the data, which keeps GAN training near its
    equilibrium; a conditional head is told each image's own class. Discriminator phase only.
    """

    name = "r1"
    source = "real"


class R2(_ZeroCentredPenalty):
    """R2 penalty: ``γ/2 · mean ‖∇ D(x̂)‖²`` on generated images (Mescheder et al. 2018).

    The counterpart of R1 on the fakes; a conditional head is told the class each fake was
    made for. Discriminator phase only.
    """

    name = "r2"
    source = "fake"


class WGANGP(Loss):
    """Wasserstein loss with gradient penalty (Gulrajani et al. 2017). Ignores label smoothing.

    D: ``mean(D(x̂)) − mean(D(x)) + λ·mean((‖∇ D(mix)‖₂ − 1)²)`` where each ``mix`` is a random
    point on the segment between a real and a fake image (a conditional head is told the real
    image's class); G: ``−mean(D(x̂))``. The penalty treats samples independently, so the
    discriminator should not use batch normalisation.
    """

    name = "wgan_gp"
    requires: ClassVar[frozenset[str]] = frozenset({"real_fake"})

    class Params(Loss.Params):
        lambda_gp: float = Field(10.0, ge=0, description="weight λ of the gradient penalty")

    def forward(self, step: StepContext) -> torch.Tensor:
        fake = step.head("real_fake", "fake")
        if step.phase == "generator":
            return -fake.mean()
        real = step.head("real_fake", "real")
        return fake.mean() - real.mean() + self.params.lambda_gp * interpolation_penalty(step)


class CosineReal(Loss):
    """The report's L_D_real: real images' embeddings near their own class, away from another.

    ``mean([t_own − cos(φ(x_i), ψ(t_i))]²) + λ1·mean([t_other − cos(φ(x_i), ψ(t_j))]²)
    + λ2·CE(classifier(φ(x_i)), y_i)``, with (t_own, t_other) the step's cosine targets,
    normally (1, 0), which gives the report's ``[1 − cos]² + λ1·cos² + λ2·L_softmax``.
    Cosine is normalised by the L2 norm (the notebook divided by the squared norm, a bug).
    With λ2 > 0 the embedding head must carry a seen-class classifier.
    """

    name = "cosine_real"
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    class Params(Loss.Params):
        lambda_other: float = Field(
            0.5, ge=0, description="weight λ1 of the other-class term (below the own-class term)"
        )
        lambda_softmax: float = Field(
            1.0, ge=0, description="weight λ2 of the seen-class classifier's cross-entropy"
        )

    def forward(self, step: StepContext) -> torch.Tensor:
        phi = step.head("embedding", "real")
        t_own, t_other = step.cosine_targets()
        own = cosine_similarity(phi, step.semantic("own"))
        other = cosine_similarity(phi, step.semantic("other"))
        loss = ((t_own - own) ** 2).mean() + self.params.lambda_other * (
            (t_other - other) ** 2
        ).mean()
        if self.params.lambda_softmax > 0:
            cross_entropy = F.cross_entropy(step.class_logits("real"), step.labels("own"))
            loss = loss + self.params.lambda_softmax * cross_entropy
        return loss


class CosineFake(Loss):
    """The report's L_D_fake: fakes' embeddings orthogonal to the class they were made for.

    ``mean(cos(φ(x̂_i), ψ(t_i))²)``, cosine normalised by the L2 norm (the notebook divided by
    the squared norm, a bug).
    """

    name = "cosine_fake"
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    def forward(self, step: StepContext) -> torch.Tensor:
        cos = cosine_similarity(step.head("embedding", "fake"), step.semantic("target"))
        return (cos**2).mean()


class CosineGenerator(Loss):
    """The report's L_G: fakes' embeddings aligned with the class they were made for.

    ``mean([1 − cos(φ(x̂_i), ψ(t_i))]²)``, cosine normalised by the L2 norm (the notebook
    divided by the squared norm, a bug).
    """

    name = "cosine_generator"
    phases: ClassVar[frozenset[str]] = GENERATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    def forward(self, step: StepContext) -> torch.Tensor:
        cos = cosine_similarity(step.head("embedding", "fake"), step.semantic("target"))
        return ((1.0 - cos) ** 2).mean()


class L1Reconstruction(Loss):
    """The report's L_G_rec: G rebuilds a real image from the discriminator's features.

    ``mean |G(D_enc(x)) − x|`` — a per-pixel mean over batch, channels and pixels, where the
    report writes ``‖G(D_enc(x)) − x‖₁``; the mean keeps the term's scale independent of the
    image size, so one weight fits every resolution.
    """

    name = "l1_reconstruction"
    phases: ClassVar[frozenset[str]] = GENERATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"reconstruction_feature"})

    def forward(self, step: StepContext) -> torch.Tensor:
        return (step.reconstruction() - step.real()).abs().mean()


class AttributeLoss(Loss):
    """The report's attribute terms: D_attr predicts an image's class attributes.

    D: ``mean_i ‖D_attr(x_i) − t_i‖₂`` on real images and their own attributes;
    G: ``mean_i ‖D_attr(x̂_i) − t_i‖₂`` on fakes and the attributes they were made for.
    With ``squared`` the term is the mean squared error over batch and attributes instead.
    """

    name = "attribute"
    requires: ClassVar[frozenset[str]] = frozenset({"attribute"})

    class Params(Loss.Params):
        squared: bool = Field(
            False,
            description="mean squared error over batch and attributes instead of the mean L2 norm",
        )

    def forward(self, step: StepContext) -> torch.Tensor:
        if step.phase == "generator":
            predicted, target = step.head("attribute", "fake"), step.attributes("target")
        else:
            predicted, target = step.head("attribute", "real"), step.attributes("own")
        if self.params.squared:
            return F.mse_loss(predicted, target)
        return torch.linalg.vector_norm(predicted - target, dim=-1).mean()


class Softmax(Loss):
    """Cross-entropy of the seen-class classifier on φ of real images (Zhang et al. 2018).

    The same term as ``cosine_real``'s λ2 part, for specs that keep it separate (set
    ``lambda_softmax: 0`` there). The embedding head must carry a classifier.
    """

    name = "softmax"
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    def forward(self, step: StepContext) -> torch.Tensor:
        return F.cross_entropy(step.class_logits("real"), step.labels("own"))


class CosineSoftmax(Loss):
    """Cross-entropy over every seen class of the scaled cosines cos(φ(x_i), ψ(t_c)).

    ``CE(s·[cos(φ(x_i), ψ(t_1)) … cos(φ(x_i), ψ(t_C))], y_i)`` over the C seen classes: the
    compatibility softmax of embedding ZSL learners (DeViSE, ALE), which trains φ and ψ
    together against all seen classes at once, where ``cosine_real`` sees one other class per
    image and its λ2 classifier trains φ only. ``scale`` s sharpens the cosines (in [-1, 1])
    into logits.
    """

    name = "cosine_softmax"
    phases: ClassVar[frozenset[str]] = DISCRIMINATOR_ONLY
    requires: ClassVar[frozenset[str]] = frozenset({"embedding"})

    class Params(Loss.Params):
        scale: float = Field(10.0, gt=0, description="s: the cosines times s are the logits")

    def forward(self, step: StepContext) -> torch.Tensor:
        phi = F.normalize(step.head("embedding", "real"), dim=-1)
        seen = F.normalize(step.semantic("seen"), dim=-1)
        return F.cross_entropy(self.params.scale * phi @ seen.T, step.labels("own"))


BUILTIN_LOSSES: tuple[type[Loss], ...] = (
    LSGAN,
    Hinge,
    NonSaturating,
    WGANGP,
    R1,
    R2,
    CosineReal,
    CosineFake,
    CosineGenerator,
    L1Reconstruction,
    AttributeLoss,
    Softmax,
    CosineSoftmax,
)


@hookimpl
def zsk_register_components(register):
    for loss in BUILTIN_LOSSES:
        register(loss)
