"""The dry pass: one tiny forward and backward step that checks a composed GAN's wiring.

Shapes are checked in the spec's terms, every network must receive a gradient, and, on request,
the pass counts FLOPs and the bytes autograd saves (``measure``, for ``zsk build``'s summary).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.autograd.graph import saved_tensors_hooks

from zsk.core.build.model import GAN
from zsk.core.components.interfaces import Condition, Dims, EmbeddingHead, Head
from zsk.core.components.zsl_data import ZslData
from zsk.core.spec.sections import Problem, Spec, SpecError, SpecPath, dotted
from zsk.registry import UserError

T = TypeVar("T")

#: Batch of the dry run that checks the wiring (two, so batch statistics are defined).
DRY_BATCH = 2


@dataclass
class DryRun:
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


def dry_pass(spec: Spec, data: ZslData, gan: GAN, batch: int, *, count: bool = False) -> DryRun:
    """One forward and backward pass through G, D and ψ on ``batch`` samples, checking shapes.

    With ``count``, also counts FLOPs and the bytes autograd saves for the backward pass (slow
    the first time: the FLOP counter loads much of torch). Leaves gradients and any state the
    pass touched (e.g. power-iteration vectors) to the caller to reset.
    """
    dims, model = gan.dims, spec.model
    generator = torch.Generator().manual_seed(spec.train.seed)
    real = probe_images(dims, batch, spec.train.seed)
    labels = torch.arange(batch) % len(data.seen)
    attributes = data.attributes[torch.tensor(data.seen)[labels]].to(torch.float32)
    noise = torch.randn(batch, dims.noise_dim, generator=generator) if dims.noise_dim else None
    image_shape = dims.sample_shape
    made = (
        "the feature vectors of the data set"
        if dims.feature_dim
        else "the images of model.image_size and channels"
    )
    shapes: dict[str, tuple[int, ...]] = {}
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    gan.train()
    G, D = gan.generator, gan.discriminator
    g_path, g_name = ("model", "generator"), f"generator '{model.generator.type}'"
    if count:
        from torch.utils.flop_counter import FlopCounterMode  # slow to import; only to count

    counter = FlopCounterMode(display=False) if count else contextlib.nullcontext()
    saving = saved_tensors_hooks(pack, lambda t: t) if count else contextlib.nullcontext()
    with counter, saving:
        source = real if G.source_images != "unused" else None
        fake = at_path(g_path, g_name, lambda: G(attributes, images=source, noise=noise))
        _expect(g_path, g_name, fake, image_shape, made)
        shapes["model.generator"] = tuple(fake.shape[1:])
        both = torch.cat([real, fake])
        trunk_name = f"trunk '{model.trunk.type}'"
        features = tensor_at(("model", "trunk"), trunk_name, lambda: D.trunk(both))
        shapes["model.trunk"] = tuple(features.shape[1:])
        outputs = [fake, features]
        judged = (torch.cat([attributes, attributes]), torch.cat([labels, labels]))
        for role, head in D.heads.items():
            condition = _condition(spec, role, head, *judged, gan)
            out = _run_head(spec, role, head, features, condition, 2 * batch, dims)
            shapes[f"model.heads.{role}"] = tuple(out.shape[1:])
            outputs.append(out)
            if condition is not None:
                outputs.extend(_auxiliary(spec, role, head, features, condition))
            if isinstance(head, EmbeddingHead):
                outputs.extend(_class_logits(spec, role, head, out, dims))
            if role == "reconstruction_feature":
                rebuilt = at_path(
                    g_path,
                    f"{g_name} decoding reconstruction features {shape_text(out[:batch])}",
                    lambda out=out: G.decode_features(out[:batch]),
                )
                _expect(
                    g_path,
                    f"{g_name} decode_features",
                    rebuilt,
                    image_shape,
                    made,
                )
                outputs.append(rebuilt)
        s_path = ("model", "semantic_encoder")
        s_name = f"semantic encoder '{model.semantic_encoder.type}'"
        semantic = at_path(s_path, s_name, lambda: gan.semantic_encoder(attributes))
        _expect(s_path, s_name, semantic, (dims.embedding_dim,), "model.embedding_dim")
        shapes["model.semantic_encoder"] = tuple(semantic.shape[1:])
        outputs.append(semantic)
        trained = [out.float().mean() for out in outputs if out.requires_grad]
        if trained:
            at_path(
                ("model",), "the dry backward pass", lambda: torch.stack(trained).sum().backward()
            )
    _check_gradients(spec, gan)
    if count:
        return DryRun(batch, shapes, int(counter.get_total_flops()), saved[0])
    return DryRun(batch, shapes)


def _condition(
    spec: Spec, role: str, head: Head, attributes: torch.Tensor, labels: torch.Tensor, gan: GAN
) -> Condition | None:
    """What a conditional head is told in the dry pass: the probe batch's classes."""
    if not head.condition:
        return None
    semantic = None
    if "semantic" in head.condition:
        path = ("model", "semantic_encoder")
        name = f"semantic encoder '{spec.model.semantic_encoder.type}' for heads.{role}"
        semantic = at_path(path, name, lambda: gan.semantic_encoder(attributes))
    return Condition(attributes, labels, semantic)


def _auxiliary(
    spec: Spec, role: str, head: Head, features: torch.Tensor, condition: Condition
) -> list[torch.Tensor]:
    """The head's own loss term on the dry batch, checked to be a finite scalar."""
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}' auxiliary_loss"
    value = at_path(
        path, name, lambda: head.auxiliary_loss(features, condition, "discriminator", "real")
    )
    if value is None:
        return []
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        raise SpecError([Problem(path, f"{name} returned {shape_text(value)}, not a scalar")])
    return [value]


def _run_head(
    spec: Spec,
    role: str,
    head: Head,
    features: torch.Tensor,
    condition: Condition | None,
    batch: int,
    dims: Dims,
) -> torch.Tensor:
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}'"
    out = tensor_at(
        path,
        f"{name} on trunk features {shape_text(features)}",
        lambda: head.judge(features, condition),
    )
    expected = {"attribute": (dims.num_attributes,), "embedding": (dims.embedding_dim,)}
    if role in expected:
        what = "model.embedding_dim" if role == "embedding" else "the data's attributes"
        _expect(path, name, out, expected[role], what)
    elif out.dim() < 1 or out.shape[0] != batch:
        raise SpecError([Problem(path, f"{name} gives {shape_text(out)}: no batch dimension")])
    return out


def _class_logits(
    spec: Spec, role: str, head: EmbeddingHead, embedding: torch.Tensor, dims: Dims
) -> list[torch.Tensor]:
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}' classifier"
    logits = at_path(path, name, lambda: head.class_logits(embedding))
    if logits is None:
        return []
    _expect(path, name, logits, (dims.num_seen_classes,), "the data's seen classes")
    return [logits]


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


def measure(spec: Spec, data: ZslData, gan: GAN, batch: int) -> DryRun:
    """FLOPs and saved activation bytes of one dry step at ``batch``, from two small passes.

    Both grow linearly with the batch (plus a fixed part: weights saved for backward), so two
    passes at 1 and 2 samples extrapolate to the spec's batch without allocating it.
    """
    initial = {name: value.clone() for name, value in gan.state_dict().items()}
    try:
        with torch.random.fork_rng(devices=[]):
            one, two = (dry_pass(spec, data, gan, b, count=True) for b in (1, 2))
    finally:
        gan.load_state_dict(initial)
        gan.zero_grad(set_to_none=True)
    shapes = two.shapes

    def at_batch(small: int, large: int) -> int:
        return max(0, small + (large - small) * (batch - 1))

    return DryRun(
        batch, shapes, at_batch(one.flops, two.flops), at_batch(one.saved_bytes, two.saved_bytes)
    )


def size_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def shape_text(tensor: Any) -> str:
    return f"({', '.join(str(n) for n in tensor.shape)})" if hasattr(tensor, "shape") else "?"
