"""The composer: a spec and a data set in, checked networks and objectives out.

It builds G, the discriminator (trunk and heads), the semantic encoder ψ and every loss term from
the registry alone, naming no concrete component, in the order the constructors need:
trunk (its output shape probed on a tiny batch) → heads (``in_shape`` = trunk features) →
the reconstruction-feature head's output shape → generator → semantic encoder → losses.
Then a dry forward and backward pass on a tiny batch checks the wiring, so a mismatch is
reported in the spec's terms before anything trains. Construction is seeded with
``spec.train.seed`` inside a forked RNG: the same spec gives the same initial weights, and the
caller's random state is left untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from pydantic import BaseModel
from torch import nn
from torch.autograd.graph import saved_tensors_hooks

from zsk.core.data.types import ZslData
from zsk.core.interfaces import Dims, EmbeddingHead, Head, Trunk
from zsk.core.model import GAN, Discriminator, Objective, WeightedTerm
from zsk.core.refs import ComponentRef
from zsk.core.spec import PHASES, Problem, Spec, SpecError, SpecPath, dotted, reference_problems
from zsk.registry import ComponentRegistry, UserError, get_registry

#: Batch of the dry run that checks the wiring (two, so batch statistics are defined).
DRY_BATCH = 2

T = TypeVar("T")


@dataclass
class DryRun:
    """What a dry pass saw: each module's output shape (without batch) and, when counted,
    its FLOPs and the bytes autograd saved for the backward pass."""

    batch: int
    shapes: dict[str, tuple[int, ...]]
    flops: int | None = None
    saved_bytes: int | None = None


@dataclass
class Build:
    """Everything a run is made of, built and checked."""

    spec: Spec
    data: ZslData
    dims: Dims
    gan: GAN
    objective: Objective
    provenance: dict[str, dict[str, str]]
    dry_run: DryRun | None = field(default=None, repr=False)


def compose(spec: Spec, data: ZslData, *, registry: ComponentRegistry | None = None) -> Build:
    """Build and check the networks and objectives of ``spec`` for ``data``.

    Raises :class:`~zsk.core.spec.SpecError` (a ``UserError``) at the spec path of the first
    part that does not fit, e.g. a head that needs larger features than the trunk gives.
    """
    registry = registry or get_registry()
    problems = reference_problems(spec, registry)
    if problems:
        raise SpecError(problems)
    dims = resolve_dims(spec, data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.train.seed)
        gan = _build_gan(spec, dims, registry)
        objective = Objective(
            **{phase: _build_terms(spec, phase, dims, registry) for phase in PHASES}
        )
        initial = {name: value.clone() for name, value in gan.state_dict().items()}
        dry_run = dry_pass(spec, data, gan, DRY_BATCH)
        gan.load_state_dict(initial)
        gan.zero_grad(set_to_none=True)
    return Build(spec, data, dims, gan, objective, provenance(spec, registry), dry_run)


def load_data(spec: Spec, *, registry: ComponentRegistry | None = None) -> ZslData:
    """The spec's data set, read (classes, attributes, split; no pixels).

    A data set's own error (a missing folder or file) is placed at the ``data.params`` entry
    it names, e.g. ``data.params.root``, so it can be located in the spec file.
    """
    try:
        return spec.data.build(registry=registry or get_registry()).load()
    except UserError as exc:
        text = f"{exc.where}: {exc.message}" if exc.where else exc.message
        raise SpecError([Problem(_data_param_named(spec, text), text, exc.hint)]) from exc


def _data_param_named(spec: Spec, text: str) -> SpecPath:
    """The data param whose (string) value the error names last; paths end in the most
    specific name, e.g. ``root/trainclasses.txt`` names ``seen_classes`` rather than ``root``."""
    best, best_at = ("data",), -1
    for key, value in spec.data.params.items():
        at = text.rfind(value) if isinstance(value, str) and value else -1
        if at > best_at:
            best, best_at = ("data", "params", key), at
    return best


def resolve_dims(spec: Spec, data: ZslData) -> Dims:
    """Sizes from the data set; a size the spec also states must agree with it."""
    model = spec.model
    origin = f"data set '{spec.data.type}' at {data.root}"
    from_data = {
        "num_attributes": (data.num_attributes, "attributes (columns of its attribute matrix)"),
        "num_seen_classes": (data.num_seen_classes, "seen classes in its split"),
        "channels": (data.channels, "image channels"),
    }
    problems = [
        Problem(
            ("model", key),
            f"the spec says {getattr(model, key)}, but the {origin} has {value} {what}",
            hint=f"remove model.{key} to take it from the data, or set it to {value}",
        )
        for key, (value, what) in from_data.items()
        if getattr(model, key) is not None and getattr(model, key) != value
    ]
    if problems:
        raise SpecError(problems)
    return Dims(
        image_size=model.image_size,
        num_attributes=data.num_attributes,
        num_seen_classes=data.num_seen_classes,
        embedding_dim=model.embedding_dim,
        noise_dim=model.noise_dim,
        channels=data.channels,
    )


def _at(path: SpecPath, what: str, action: Callable[[], T]) -> T:
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


def _probe(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The output of ``module`` in eval mode without gradients (shape probing only)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(inputs)
    finally:
        module.train(was_training)


def _probe_images(dims: Dims, batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, dims.channels, dims.image_size, dims.image_size)
    return torch.rand(shape, generator=generator) * 2 - 1


def _build_gan(spec: Spec, dims: Dims, registry: ComponentRegistry) -> GAN:
    model = spec.model
    trunk = _at(
        ("model", "trunk"),
        f"building trunk '{model.trunk.type}'",
        lambda: model.trunk.build(dims, registry=registry),
    )
    images = _probe_images(dims, DRY_BATCH, spec.train.seed)
    features = _at(
        ("model", "trunk"),
        f"trunk '{model.trunk.type}' on {_shape(images)} images",
        lambda: _probe(trunk, images),
    )
    if features.dim() != 4:
        raise SpecError(
            [
                Problem(
                    ("model", "trunk"),
                    f"trunk '{model.trunk.type}' gives features of shape "
                    f"{_shape(features)}, not (B, C, H, W)",
                )
            ]
        )
    in_shape = (features.shape[1], features.shape[2], features.shape[3])
    heads = _build_heads(spec, dims, in_shape, trunk, registry)
    feature_shape = None
    recon = heads.get("reconstruction_feature")
    if recon is not None:
        path = ("model", "heads", "reconstruction_feature")
        out = _at(
            path,
            f"head '{model.heads['reconstruction_feature'].type}'",
            lambda: _probe(recon, features),
        )
        feature_shape = tuple(out.shape[1:])
    generator = _at(
        ("model", "generator"),
        f"building generator '{model.generator.type}'",
        lambda: model.generator.build(dims, feature_shape, registry=registry),
    )
    semantic = _at(
        ("model", "semantic_encoder"),
        f"building semantic encoder '{model.semantic_encoder.type}'",
        lambda: model.semantic_encoder.build(dims, registry=registry),
    )
    return GAN(generator, Discriminator(trunk, heads), semantic, dims)


def _build_heads(
    spec: Spec,
    dims: Dims,
    in_shape: tuple[int, int, int],
    trunk: Trunk,
    registry: ComponentRegistry,
) -> dict[str, Head]:
    model = spec.model
    problems = []
    for role, ref in model.heads.items():
        cls = registry.component("head", ref.type)
        need = cls.input_problem(ref.resolved_params(registry), in_shape)
        if need:
            how = trunk.describe()
            problems.append(
                Problem(
                    ("model", "heads", role),
                    f"heads.{role} ('{ref.type}') {need}, but trunk '{model.trunk.type}' gives "
                    f"{_size(in_shape)} features at model.image_size={model.image_size}"
                    + (f" {how}" if how else ""),
                    hint="use fewer stride-2 blocks in the trunk, larger images, or a smaller "
                    "head kernel",
                )
            )
    if problems:
        raise SpecError(problems)
    return {
        role: _at(
            ("model", "heads", role),
            f"building head '{ref.type}'",
            lambda ref=ref: ref.build(dims, in_shape, registry=registry),
        )
        for role, ref in model.heads.items()
    }


def _build_terms(
    spec: Spec, phase: str, dims: Dims, registry: ComponentRegistry
) -> list[WeightedTerm]:
    terms = []
    for index, term in enumerate(getattr(spec.objective, phase)):
        loss = _at(
            ("objective", phase, index),
            f"building loss '{term.type}'",
            lambda term=term: term.build(dims, registry=registry),
        )
        terms.append(WeightedTerm(term.display_name, loss, term.weight))
    return terms


def dry_pass(spec: Spec, data: ZslData, gan: GAN, batch: int, *, count: bool = False) -> DryRun:
    """One forward and backward pass through G, D and ψ on ``batch`` samples, checking shapes.

    With ``count``, also counts FLOPs and the bytes autograd saves for the backward pass (slow
    the first time: the FLOP counter loads much of torch). Leaves gradients and any state the
    pass touched (e.g. power-iteration vectors) to the caller to reset.
    """
    dims, model = gan.dims, spec.model
    generator = torch.Generator().manual_seed(spec.train.seed)
    real = _probe_images(dims, batch, spec.train.seed)
    rows = torch.tensor([data.seen[i % len(data.seen)] for i in range(batch)])
    attributes = data.attributes[rows].to(torch.float32)
    noise = torch.randn(batch, dims.noise_dim, generator=generator) if dims.noise_dim else None
    image_shape = (dims.channels, dims.image_size, dims.image_size)
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
        source = real if G.translates_images else None
        fake = _at(g_path, g_name, lambda: G(attributes, images=source, noise=noise))
        _expect(g_path, g_name, fake, image_shape, "the images of model.image_size and channels")
        shapes["model.generator"] = tuple(fake.shape[1:])
        both = torch.cat([real, fake])
        features = _at(("model", "trunk"), f"trunk '{model.trunk.type}'", lambda: D.trunk(both))
        shapes["model.trunk"] = tuple(features.shape[1:])
        outputs = [fake, features]
        for role, head in D.heads.items():
            out = _run_head(spec, role, head, features, 2 * batch, dims)
            shapes[f"model.heads.{role}"] = tuple(out.shape[1:])
            outputs.append(out)
            if isinstance(head, EmbeddingHead):
                outputs.extend(_class_logits(spec, role, head, out, dims))
            if role == "reconstruction_feature":
                rebuilt = _at(
                    g_path,
                    f"{g_name} decoding reconstruction features {_shape(out[:batch])}",
                    lambda out=out: G.decode_features(out[:batch]),
                )
                _expect(
                    g_path,
                    f"{g_name} decode_features",
                    rebuilt,
                    image_shape,
                    "the images of model.image_size and channels",
                )
                outputs.append(rebuilt)
        s_path = ("model", "semantic_encoder")
        s_name = f"semantic encoder '{model.semantic_encoder.type}'"
        semantic = _at(s_path, s_name, lambda: gan.semantic_encoder(attributes))
        _expect(s_path, s_name, semantic, (dims.embedding_dim,), "model.embedding_dim")
        shapes["model.semantic_encoder"] = tuple(semantic.shape[1:])
        outputs.append(semantic)
        trained = [out.float().mean() for out in outputs if out.requires_grad]
        if trained:
            _at(("model",), "the dry backward pass", lambda: torch.stack(trained).sum().backward())
    _check_gradients(spec, gan)
    if count:
        return DryRun(batch, shapes, int(counter.get_total_flops()), saved[0])
    return DryRun(batch, shapes)


def _run_head(
    spec: Spec, role: str, head: nn.Module, features: torch.Tensor, batch: int, dims: Dims
) -> torch.Tensor:
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}'"
    out = _at(path, f"{name} on trunk features {_shape(features)}", lambda: head(features))
    expected = {"attribute": (dims.num_attributes,), "embedding": (dims.embedding_dim,)}
    if role in expected:
        what = "model.embedding_dim" if role == "embedding" else "the data's attributes"
        _expect(path, name, out, expected[role], what)
    elif out.dim() < 1 or out.shape[0] != batch:
        raise SpecError([Problem(path, f"{name} gives {_shape(out)}: no batch dimension")])
    return out


def _class_logits(
    spec: Spec, role: str, head: EmbeddingHead, embedding: torch.Tensor, dims: Dims
) -> list[torch.Tensor]:
    path, name = ("model", "heads", role), f"head '{spec.model.heads[role].type}' classifier"
    logits = _at(path, name, lambda: head.class_logits(embedding))
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
                    f"{name} gives {_shape(out)} but {what} need (B, {', '.join(map(str, shape))})",
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


def measure(build: Build, batch: int) -> DryRun:
    """FLOPs and saved activation bytes of one dry step at ``batch``, from two small passes.

    Both grow linearly with the batch (plus a fixed part: weights saved for backward), so two
    passes at 1 and 2 samples extrapolate to the spec's batch without allocating it.
    """
    gan = build.gan
    initial = {name: value.clone() for name, value in gan.state_dict().items()}
    try:
        with torch.random.fork_rng(devices=[]):
            one, two = (dry_pass(build.spec, build.data, gan, b, count=True) for b in (1, 2))
    finally:
        gan.load_state_dict(initial)
        gan.zero_grad(set_to_none=True)
    shapes = two.shapes

    def at_batch(small: int, large: int) -> int:
        return max(0, small + (large - small) * (batch - 1))

    return DryRun(
        batch, shapes, at_batch(one.flops, two.flops), at_batch(one.saved_bytes, two.saved_bytes)
    )


def provenance(spec: Spec, registry: ComponentRegistry) -> dict[str, dict[str, str]]:
    """Which plugin, distribution and version gave each component the spec names."""
    rows = {}
    for path, ref in _component_refs(spec, (), registry):
        entry = registry.get(ref.kind, ref.type)
        rows[dotted(path)] = {
            "type": ref.type,
            "plugin": entry.plugin,
            "distribution": entry.distribution,
            "version": entry.version,
        }
    return rows


def _component_refs(
    value: Any, path: SpecPath, registry: ComponentRegistry
) -> Iterator[tuple[SpecPath, ComponentRef]]:
    """Every component reference in a spec, params included (e.g. a trunk's normaliser)."""
    if isinstance(value, ComponentRef):
        yield path, value
        yield from _component_refs(value.resolved_params(registry), (*path, "params"), registry)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _component_refs(getattr(value, name), (*path, name), registry)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _component_refs(item, (*path, key), registry)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _component_refs(item, (*path, index), registry)


def _size(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def _shape(tensor: Any) -> str:
    return f"({', '.join(str(n) for n in tensor.shape)})" if hasattr(tensor, "shape") else "?"
