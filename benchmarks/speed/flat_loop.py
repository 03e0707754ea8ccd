"""The hand-written baseline: one training step of the report's objective in plain PyTorch.

No registry, no step context, no loss objects: the networks are called directly and every loss
is written inline — LSGAN, the cosine terms with the seen-class softmax, the attribute terms and
the L1 reconstruction — with the same fused Adam optimisers, label smoothing and flipping,
instance noise, horizontal flips and memory layout as the spec asks for. It is what a
researcher would write by hand for this one objective, and the yardstick for what zsk's
modularity costs.

Random numbers are drawn in the order zsk's step draws them (flip coins, other classes,
negative samples, noise; then the generator, D on fakes, D on reals, targets, ψ, ...), so for
the same seed, weights and batch it computes the same losses; ``bench_overhead`` checks that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: The objective the flat loop implements, by loss type: D's terms, then G's terms, in order.
D_TERMS = ("lsgan", "cosine_real", "cosine_fake", "attribute")
G_TERMS = ("lsgan", "cosine_generator", "attribute", "l1_reconstruction")


@dataclass
class FlatSettings:
    """Plain numbers the flat step needs (read once from a spec by :func:`flat_settings`)."""

    lr_d: float
    lr_g: float
    betas_d: tuple[float, float]
    betas_g: tuple[float, float]
    noise_dim: int
    negative_fraction: float
    hflip: bool
    channels_last: bool
    smoothing_real: tuple[float, float] | None
    smoothing_fake: tuple[float, float] | None
    flip_real_fake: float
    flip_cosine: float
    noise_std: float
    noise_decay: float
    lambda_other: float
    lambda_softmax: float
    d_weights: tuple[float, ...]
    g_weights: tuple[float, ...]


def flat_settings(build) -> FlatSettings:
    """The settings of a composed build (``zsk.core.build.composer.Build``) whose objective is the
    report's; anything the flat loop does not implement is refused with a ValueError."""
    train = build.spec.train
    d_types = tuple(t.loss.name for t in build.objective.discriminator)
    g_types = tuple(t.loss.name for t in build.objective.generator)
    if (d_types, g_types) != (D_TERMS, G_TERMS):
        raise ValueError(f"the flat loop implements D {D_TERMS} and G {G_TERMS}, not {d_types}")
    unsupported = {
        "n_critic > 1": train.n_critic != 1,
        "weight decay": train.optimizers.discriminator.weight_decay > 0
        or train.optimizers.generator.weight_decay > 0,
        "grad_clip": train.grad_clip is not None,
        "ema": train.ema is not None,
        "squared attribute loss": any(
            t.loss.params.squared
            for t in build.objective.discriminator + build.objective.generator
            if t.loss.name == "attribute"
        ),
    }
    refused = [name for name, present in unsupported.items() if present]
    if refused:
        raise ValueError(f"the flat loop does not implement: {', '.join(refused)}")
    cosine = build.objective.discriminator[1].loss.params
    smoothing = train.label_smoothing
    return FlatSettings(
        lr_d=train.optimizers.discriminator.lr,
        lr_g=train.optimizers.generator.lr,
        betas_d=tuple(train.optimizers.discriminator.betas),
        betas_g=tuple(train.optimizers.generator.betas),
        noise_dim=build.dims.noise_dim,
        negative_fraction=train.negative_fraction,
        hflip=train.hflip,
        channels_last=train.channels_last,
        smoothing_real=tuple(smoothing.real) if smoothing else None,
        smoothing_fake=tuple(smoothing.fake) if smoothing else None,
        flip_real_fake=train.label_flip.real_fake,
        flip_cosine=train.label_flip.cosine,
        noise_std=train.instance_noise.std,
        noise_decay=train.instance_noise.decay,
        lambda_other=cosine.lambda_other,
        lambda_softmax=cosine.lambda_softmax,
        d_weights=tuple(t.weight for t in build.objective.discriminator),
        g_weights=tuple(t.weight for t in build.objective.generator),
    )


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    norms = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    return (a * b).sum(dim=-1) / norms.clamp_min(1e-8)


def coin(probability: float) -> bool:
    return probability > 0 and float(torch.rand(())) < probability


def descend(
    optimizer: torch.optim.Optimizer, weights: tuple[float, ...], terms: list[torch.Tensor]
) -> None:
    """One optimiser step on the weighted sum of ``terms``."""
    loss = sum(w * v for w, v in zip(weights, terms, strict=True))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class FlatLoop:
    """D update then G update on one batch, on the given networks, with its own Adam optimisers."""

    def __init__(self, gan: nn.Module, class_attributes: torch.Tensor, settings: FlatSettings):
        self.G = gan.generator
        self.trunk = gan.discriminator.trunk
        self.heads = gan.discriminator.heads
        self.psi = gan.semantic_encoder
        self.attrs = class_attributes
        self.s = settings
        self.noise_std = settings.noise_std
        d_params = [*gan.discriminator.parameters(), *gan.semantic_encoder.parameters()]
        self.d_frozen = [gan.discriminator, gan.semantic_encoder]
        # torch's fused Adam, as zsk uses: the per-tensor loop rounds differently (the two
        # loops' losses then part after the first update) and costs more (BENCHMARKS.md §1)
        self.opt_d = torch.optim.Adam(
            d_params, lr=settings.lr_d, betas=settings.betas_d, fused=True
        )
        self.opt_g = torch.optim.Adam(
            gan.generator.parameters(), lr=settings.lr_g, betas=settings.betas_g, fused=True
        )

    def real_fake_targets(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """LSGAN's targets for real and fake scores, smoothed and flipped as the spec asks."""
        s = self.s
        if s.smoothing_real is None:
            real_t, fake_t = torch.ones(batch), torch.zeros(batch)
        else:
            real_t = torch.empty(batch).uniform_(*s.smoothing_real)
            fake_t = torch.empty(batch).uniform_(*s.smoothing_fake)
        if coin(s.flip_real_fake):
            real_t, fake_t = fake_t, real_t
        return real_t, fake_t

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.noise_std * torch.randn_like(x) if self.noise_std > 0 else x

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """One step on real images ``x`` in [-1, 1] with seen-class labels ``y``; returns the
        unweighted terms, D's then G's, in the order of :data:`D_TERMS` and :data:`G_TERMS`."""
        s, heads, batch = self.s, self.heads, x.shape[0]
        if s.hflip:
            flip = (torch.rand(batch) < 0.5).view(-1, 1, 1, 1)
            x = torch.where(flip, x.flip(-1), x)
        if s.channels_last:  # the networks were converted as zsk train converts them
            x = x.contiguous(memory_format=torch.channels_last)
        classes = self.attrs.shape[0]
        other = (y + torch.randint(1, max(classes, 2), y.shape)) % classes
        target = torch.where(torch.rand(y.shape) < s.negative_fraction, other, y)
        z = torch.randn(batch, s.noise_dim) if s.noise_dim > 0 else None
        t_target = self.attrs[target]

        # discriminator (and ψ) update
        fake = self.G(t_target, images=x if self.G.source_images != "unused" else None, noise=z)
        h_fake = self.trunk(self.noisy(fake.detach()))
        rf_fake = heads["real_fake"](h_fake)
        h_real = self.trunk(self.noisy(x))
        rf_real = heads["real_fake"](h_real)
        real_t, fake_t = self.real_fake_targets(batch)
        shape = (-1, *([1] * (rf_real.dim() - 1)))
        d_adv = ((real_t.view(shape) - rf_real) ** 2).mean() + (
            (fake_t.view(shape) - rf_fake) ** 2
        ).mean()
        phi_real = heads["embedding"](h_real)
        own_t, other_t = (0.0, 1.0) if coin(s.flip_cosine) else (1.0, 0.0)
        psi_own, psi_other = self.psi(self.attrs[y]), self.psi(self.attrs[other])
        d_cos_real = ((own_t - cosine(phi_real, psi_own)) ** 2).mean() + s.lambda_other * (
            (other_t - cosine(phi_real, psi_other)) ** 2
        ).mean()
        if s.lambda_softmax > 0:
            logits = heads["embedding"].class_logits(phi_real)
            d_cos_real = d_cos_real + s.lambda_softmax * F.cross_entropy(logits, y)
        phi_fake = heads["embedding"](h_fake)
        d_cos_fake = (cosine(phi_fake, self.psi(t_target)) ** 2).mean()
        d_attr = torch.linalg.vector_norm(heads["attribute"](h_real) - self.attrs[y], dim=-1)
        d_terms = [d_adv, d_cos_real, d_cos_fake, d_attr.mean()]
        descend(self.opt_d, s.d_weights, d_terms)

        # generator update, D and ψ frozen
        for module in self.d_frozen:
            module.requires_grad_(False)
        h_fake = self.trunk(self.noisy(fake))
        g_adv = ((1.0 - heads["real_fake"](h_fake)) ** 2).mean()
        g_cos = ((1.0 - cosine(heads["embedding"](h_fake), self.psi(t_target))) ** 2).mean()
        g_attr = torch.linalg.vector_norm(heads["attribute"](h_fake) - t_target, dim=-1).mean()
        rebuilt = self.G.decode_features(heads["reconstruction_feature"](self.trunk(self.noisy(x))))
        g_rec = (rebuilt - x).abs().mean()
        g_terms = [g_adv, g_cos, g_attr, g_rec]
        descend(self.opt_g, s.g_weights, g_terms)
        for module in self.d_frozen:
            module.requires_grad_(True)

        self.noise_std *= s.noise_decay
        return [t.detach() for t in d_terms + g_terms]
