"""The dry pass: one tiny forward and backward step that checks a composed GAN's wiring.

Shapes are checked in the spec's terms, every network must receive a gradient, and, on request,
the pass counts FLOPs and the bytes autograd saves (``measure``, for ``zsk build``'s summary).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.autograd.graph import saved_tensors_hooks

from zsk.core.build.model import GAN, auxiliary_terms
from zsk.core.build.step import CONDITION_OF_SOURCE, Batch, FakeImages, PhaseContext
from zsk.core.components.interfaces import Dims, EmbeddingHead, Head, Source
from zsk.core.components.zsl_data import ZslData
from zsk.core.spec.sections import Problem, Spec, SpecError, SpecPath, dotted
from zsk.registry import UserError

T = TypeVar("T")

#: Batch of the dry run that checks the wiring (two, so batch statistics are defined).
DRY_BATCH = 2
#: the smaller of :func:`measure`'s two batches (two samples, as the dry pass's own batch)
SMALL = 2


@dataclass
class DryPassResult:
    """What a dry pass saw: each module's output shape (without batch) and, when counted,
    its FLOPs and the bytes autograd saved for the backward pass."""

    batch: int
    shapes: dict[str, tuple[int, ...]]
    flops: int | None = None
    saved_bytes: int | None = None


def at_path(path: SpecPath, what: str, action: Callable[[], T]) -> T:
    """Run ``action``; any failure becomes a problem at ``path`` of the spec."""
    try:
        return action()
    except SpecError:
        raise
    except UserError as exc:
        raise SpecError([Problem(path, exc.message, exc.hint)]) from exc
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SpecError([Problem(path, f"{what} failed: {type(exc).__name__}: {message}")]) from exc


def tensor_at(path: SpecPath, what: str, action: Callable[[], Any]) -> torch.Tensor:
    """:func:`at_path` for a component's output, which must be one tensor: anything else (a
    list, a tuple, a number) is a problem at ``path`` naming the component, not a crash later."""
    out = at_path(path, what, action)
    if not isinstance(out, torch.Tensor):
        raise SpecError(
            [
                Problem(
                    path,
                    f"{what} returned a {type(out).__name__}, not a tensor",
                    hint="a component's forward returns one torch.Tensor",
                )
            ]
        )
    return out


def probe_images(dims: Dims, batch: int, seed: int) -> torch.Tensor:
    """Random samples of ``dims.sample_shape``: images in [-1, 1], or non-negative feature
    vectors (pooled CNN features are non-negative)."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand((batch, *dims.sample_shape), generator=generator)
    return values if dims.feature_dim else values * 2 - 1


def probe_batch(spec: Spec, data: ZslData, dims: Dims, batch: int) -> Batch:
    """The dry pass's batch, as a step draws one: random samples of the seen classes in turn,
    each fake made for its own class, seeded by the spec."""
    generator = torch.Generator().manual_seed(spec.train.seed)
    real = probe_images(dims, batch, spec.train.seed)
    seen = len(data.seen)
    own = torch.arange(batch) % seen
    noise = torch.randn(batch, dims.noise_dim, generator=generator) if dims.noise_dim else None
    class_attributes = data.attributes[data.seen].to(torch.float32)
    return Batch(real, own, (own + 1) % seen, own, noise, class_attributes)


def dry_pass(
    spec: Spec, data: ZslData, gan: GAN, batch: int, *, count: bool = False
) -> DryPassResult:
    """One forward and backward pass through G, D and ψ on ``batch`` samples, checking shapes.

    The pass drives the training step's own machinery (:class:`~zsk.core.build.step.
    PhaseContext`) on a probe batch: G makes the fakes, the trunk judges real and fake samples,
    every head judges both with the condition the step gives it, and the heads' own terms,
    the embedding head's classifier and the reconstruction are computed as the step computes
    them. With ``count``, also counts FLOPs and the bytes autograd saves for the backward pass
    (slow the first time: the FLOP counter loads much of torch). Leaves gradients and any state
    the pass touched (e.g. power-iteration vectors) to the caller to reset.
    """
    probe = probe_batch(spec, data, gan.dims, batch)
    fakes = FakeImages(gan, probe, keep_graph=True)
    ctx = PhaseContext("discriminator", gan, probe, fakes)
    shapes: dict[str, tuple[int, ...]] = {}
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    gan.train()
    if count:
        from torch.utils.flop_counter import FlopCounterMode  # slow to import; only to count

    counter = FlopCounterMode(display=False) if count else contextlib.nullcontext()
    saving = saved_tensors_hooks(pack, lambda t: t) if count else contextlib.nullcontext()
    with counter, saving:
        outputs = _forward(spec, ctx, fakes, shapes)
        trained = [out.float().mean() for out in outputs if out.requires_grad]
        if trained:
            at_path(
                ("model",), "the dry backward pass", lambda: torch.stack(trained).sum().backward()
            )
    _check_gradients(spec, gan)
    if count:
        return DryPassResult(batch, shapes, int(counter.get_total_flops()), saved[0])
    return DryPassResult(batch, shapes)


def _forward(
    spec: Spec, ctx: PhaseContext, fakes: FakeImages, shapes: dict[str, tuple[int, ...]]
) -> list[torch.Tensor]:
    """Every output of one step on the probe batch, each checked and located in the spec."""
    dims, model = ctx.gan.dims, spec.model
    g_path, g_name = ("model", "generator"), f"generator '{model.generator.type}'"
    fake = at_path(g_path, g_name, fakes.get)
    _expect(g_path, g_name, fake, dims.sample_shape, _samples(dims))
    shapes["model.generator"] = tuple(fake.shape[1:])
    s_path = ("model", "semantic_encoder")
    s_name = f"semantic encoder '{model.semantic_encoder.type}'"
    semantic = [at_path(s_path, s_name, lambda w=which: ctx.semantic(w)) for which in SOURCES_OF]
    _expect(s_path, s_name, semantic[0], (dims.embedding_dim,), "model.embedding_dim")
    shapes["model.semantic_encoder"] = tuple(semantic[0].shape[1:])
    t_path, t_name = ("model", "trunk"), f"trunk '{model.trunk.type}'"
    features = [tensor_at(t_path, t_name, lambda s=source: ctx.features(s)) for source in SOURCES]
    shapes["model.trunk"] = tuple(features[0].shape[1:])
    outputs = [fake, *semantic, *features]
    for role, head in ctx.gan.discriminator.heads.items():
        for source in SOURCES:
            out = _judged(spec, ctx, role, source, features[0])
            shapes[f"model.heads.{role}"] = tuple(out.shape[1:])
            outputs += [out, *_class_logits(spec, ctx, role, head, source)]
    outputs += _auxiliary_terms(spec, ctx, fakes)
    if "reconstruction_feature" in ctx.gan.discriminator.heads:
        name = f"{g_name} decoding reconstruction features"
        rebuilt = at_path(g_path, name, ctx.reconstruction)
        _expect(g_path, f"{g_name} decode_features", rebuilt, dims.sample_shape, _samples(dims))
        outputs.append(rebuilt)
    return outputs


#: the sources a step judges, and the classes each is told (real: their own; fake: the target)
SOURCES: tuple[Source, ...] = ("real", "fake")
SOURCES_OF = tuple(CONDITION_OF_SOURCE[source] for source in SOURCES)


def _samples(dims: Dims) -> str:
    if dims.feature_dim:
        return "the feature vectors of the data set"
    return "the images of model.image_size and channels"


def _judged(
    spec: Spec, ctx: PhaseContext, role: str, source: Source, features: torch.Tensor
) -> torch.Tensor:
    """The ``role`` head's output on the ``source`` samples, checked in the spec's terms."""
    dims = ctx.gan.dims
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}'"
    where = f"{name} on trunk features {shape_text(features)}"
    out = tensor_at(path, where, lambda: ctx.head(role, source))
    expected = {"attribute": (dims.num_attributes,), "embedding": (dims.embedding_dim,)}
    if role in expected:
        what = "model.embedding_dim" if role == "embedding" else "the data's attributes"
        _expect(path, name, out, expected[role], what)
    elif out.dim() < 1 or out.shape[0] != ctx.batch.real.shape[0]:
        raise SpecError([Problem(path, f"{name} gives {shape_text(out)}: no batch dimension")])
    return out


def _class_logits(
    spec: Spec, ctx: PhaseContext, role: str, head: Head, source: Source
) -> list[torch.Tensor]:
    """An embedding head's classifier's seen-class logits, as the step computes them; none for
    another head or an embedding head without a classifier."""
    if role != "embedding" or not isinstance(head, EmbeddingHead):
        return []
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}' classifier"
    logits = at_path(path, name, lambda: ctx.optional_class_logits(source))
    if logits is None:
        return []
    _expect(path, name, logits, (ctx.gan.dims.num_seen_classes,), "the data's seen classes")
    return [logits]


def _auxiliary_terms(spec: Spec, ctx: PhaseContext, fakes: FakeImages) -> list[torch.Tensor]:
    """Each head's own loss term (a scalar) in each phase its head declares it for
    (:func:`~zsk.core.build.model.auxiliary_terms`), as the step computes it."""
    found = []
    in_phase = {
        "discriminator": ctx,
        "generator": PhaseContext("generator", ctx.gan, ctx.batch, fakes),
    }
    for phase, terms in auxiliary_terms(ctx.gan.discriminator.heads).items():
        for term in terms:
            path = ("model", "heads", term.role)
            name = f"head '{spec.model.heads[term.role].type}' auxiliary_loss"
            term_of = functools.partial(in_phase[phase].auxiliary_loss, term.role, term.source)
            value = at_path(path, name, term_of)
            if value is None:
                continue
            if not isinstance(value, torch.Tensor) or value.dim() != 0:
                where = f"on {term.source} samples in the {phase} phase"
                problem = f"{name} returned {shape_text(value)} {where}, not a scalar"
                raise SpecError([Problem(path, problem)])
            found.append(value)
    return found


def _expect(path: SpecPath, name: str, out: Any, shape: tuple[int, ...], what: str) -> None:
    if not isinstance(out, torch.Tensor):
        raise SpecError([Problem(path, f"{name} returned {type(out).__name__}, not a tensor")])
    if tuple(out.shape[1:]) != shape:
        raise SpecError(
            [
                Problem(
                    path,
                    f"{name} gives {shape_text(out)} but {what} need "
                    f"(B, {', '.join(map(str, shape))})",
                )
            ]
        )


def _check_gradients(spec: Spec, gan: GAN) -> None:
    """Every trained module with parameters must receive a gradient from its outputs."""
    modules: list[tuple[SpecPath, nn.Module]] = [
        (("model", "generator"), gan.generator),
        (("model", "trunk"), gan.discriminator.trunk),
        (("model", "semantic_encoder"), gan.semantic_encoder),
        *((("model", "heads", role), head) for role, head in gan.discriminator.heads.items()),
    ]
    for path, module in modules:
        params = [p for p in module.parameters() if p.requires_grad]
        if params and all(p.grad is None for p in params):
            raise SpecError(
                [
                    Problem(
                        path,
                        f"no gradient reaches the parameters of {dotted(path)} from its "
                        "output; it cannot learn (is its output detached?)",
                    )
                ]
            )


def measure(spec: Spec, data: ZslData, gan: GAN, batch: int) -> DryPassResult:
    """FLOPs and saved activation bytes of one dry step at ``batch``, from two small passes.

    Both grow linearly with the batch (plus a fixed part: weights saved for backward), so two
    passes at :data:`SMALL` and twice as many samples extrapolate to the spec's batch without
    allocating it.
    """
    initial = {name: value.clone() for name, value in gan.state_dict().items()}
    try:
        with torch.random.fork_rng(devices=[]):
            one, two = (dry_pass(spec, data, gan, b, count=True) for b in (SMALL, 2 * SMALL))
    finally:
        gan.load_state_dict(initial)
        gan.zero_grad(set_to_none=True)
    shapes = two.shapes

    def at_batch(small: int, large: int) -> int:
        return max(0, small + (large - small) * (batch - SMALL) // SMALL)

    return DryPassResult(
        batch, shapes, at_batch(one.flops, two.flops), at_batch(one.saved_bytes, two.saved_bytes)
    )


def size_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def shape_text(tensor: Any) -> str:
    return f"({', '.join(str(n) for n in tensor.shape)})" if hasattr(tensor, "shape") else "?"
