"""The composer: a spec and a data set in, checked networks and objectives out.

It builds G, the discriminator (trunk and heads), the semantic encoder ψ and every loss term from
the registry alone, naming no concrete component, in the order the constructors need:
trunk (its output shape probed on a tiny batch) → heads (``in_shape`` = trunk features) →
the reconstruction-feature head's output shape → generator → semantic encoder → losses.
Then a dry forward and backward pass on a tiny batch (:mod:`zsk.core.build.dry_pass`) checks the
wiring, so a mismatch is reported in the spec's terms before anything trains. Construction is
seeded with ``spec.train.seed`` inside a forked RNG: the same spec gives the same initial
weights, and the caller's random state is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn

from zsk.core.build.dry_pass import (
    DRY_BATCH,
    DryPassResult,
    at_path,
    dry_pass,
    probe_images,
    shape_text,
    size_text,
    tensor_at,
)
from zsk.core.build.model import GAN, Discriminator, Objective, WeightedTerm, auxiliary_terms
from zsk.core.components.interfaces import Dims, Head, Trunk
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.holdout import apply_holdout
from zsk.core.data.reader_output import read_checked, reader_label
from zsk.core.spec.refs import ComponentRef
from zsk.core.spec.sections import (
    PHASES,
    Problem,
    Spec,
    SpecError,
    SpecPath,
    dotted,
    reference_problems,
)
from zsk.registry import ComponentRegistry, UserError, get_registry


@dataclass
class Build:
    """Everything a run is made of, built and checked."""

    spec: Spec
    data: ZslData
    dims: Dims
    gan: GAN
    objective: Objective
    provenance: dict[str, dict[str, str]]
    dry_pass_result: DryPassResult | None = field(default=None, repr=False)


#: Roles whose heads evaluation, generation and reconstruction call without a condition.
UNCONDITIONED_ROLES = frozenset({"attribute", "embedding", "reconstruction_feature"})


def compose(
    spec: Spec, data: ZslData, *, registry: ComponentRegistry | None = None, dry: bool = True
) -> Build:
    """Build and check the networks and objectives of ``spec`` for ``data``.

    Raises :class:`~zsk.core.spec.sections.SpecError` (a ``UserError``) at the spec path of the
    first part that does not fit, e.g. a head that needs larger features than the trunk gives.
    ``dry=False`` skips the dry pass: for a run directory's spec, whose wiring its build checked
    (the networks are still made, their shapes probed, and the seeded weights are the same).
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
            **{phase: _build_terms(spec, phase, dims, registry) for phase in PHASES},
            auxiliary=auxiliary_terms(gan.discriminator.heads),
        )
        dry_pass_result = _checked_wiring(spec, data, gan) if dry else None
    return Build(spec, data, dims, gan, objective, provenance(spec, registry), dry_pass_result)


def _checked_wiring(spec: Spec, data: ZslData, gan: GAN) -> DryPassResult:
    """The dry pass, with the weights and gradients left as they were before it."""
    initial = {name: value.clone() for name, value in gan.state_dict().items()}
    dry_pass_result = dry_pass(spec, data, gan, DRY_BATCH)
    gan.load_state_dict(initial)
    gan.zero_grad(set_to_none=True)
    return dry_pass_result


def load_data(spec: Spec, *, registry: ComponentRegistry | None = None) -> ZslData:
    """The spec's data set, read (classes, attributes, split; no pixels).

    A data set's own error (a missing folder or file) is placed at the ``data.params`` entry
    it names, e.g. ``data.params.root``, so it can be located in the spec file. A spec with a
    ``holdout`` section gets the validation run's data (:mod:`zsk.core.data.holdout`).
    """
    registry = registry or get_registry()
    try:
        reader = spec.data.build(registry=registry)
        data = read_checked(reader, reader_label(spec.data.type, registry))
    except UserError as exc:
        text = f"{exc.where}: {exc.message}" if exc.where else exc.message
        where = _data_param_named(spec, text, registry)
        raise SpecError([Problem(where, text, exc.hint)]) from exc
    if spec.holdout is None:
        return data
    holdout = spec.holdout
    try:
        return apply_holdout(data, holdout.classes, holdout.images, holdout.seed)
    except UserError as exc:
        raise SpecError([Problem(("holdout", "classes"), exc.message, exc.hint)]) from exc


def _data_param_named(spec: Spec, text: str, registry: ComponentRegistry) -> SpecPath:
    """The data param whose (string) value the error names last; paths end in the most
    specific name, e.g. ``root/trainclasses.txt`` names ``seen_classes`` rather than ``root``.
    Of values ending at the same place the longest wins (``root=/x/none`` over ``rows=none``)."""
    best, best_end = ("data",), (-1, 0)
    for key, value in spec.data.resolve(registry).params.model_dump(mode="json").items():
        at = text.rfind(value) if isinstance(value, str) and value else -1
        end = (at + len(value), len(value)) if at >= 0 else (-1, 0)
        if end > best_end:
            best, best_end = ("data", "params", key), end
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
        feature_dim=data.feature_dim if data.is_features else 0,
    )


def _probe(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The output of ``module`` in eval mode without gradients (shape probing only)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(inputs)
    finally:
        module.train(was_training)


def _build_gan(spec: Spec, dims: Dims, registry: ComponentRegistry) -> GAN:
    model = spec.model
    trunk = at_path(
        ("model", "trunk"),
        f"building trunk '{model.trunk.type}'",
        lambda: model.trunk.build(dims=dims, registry=registry),
    )
    images = probe_images(dims, DRY_BATCH, spec.train.seed)
    what = "feature vectors" if dims.feature_dim else "images"
    features = tensor_at(
        ("model", "trunk"),
        f"trunk '{model.trunk.type}' on {shape_text(images)} {what}",
        lambda: _probe(trunk, images),
    )
    if features.dim() != 4:
        raise SpecError(
            [
                Problem(
                    ("model", "trunk"),
                    f"trunk '{model.trunk.type}' gives features of shape "
                    f"{shape_text(features)}, not (B, C, H, W)",
                )
            ]
        )
    in_shape = (features.shape[1], features.shape[2], features.shape[3])
    heads = _build_heads(spec, dims, in_shape, trunk, registry)
    feature_shape = None
    recon = heads.get("reconstruction_feature")
    if recon is not None:
        path = ("model", "heads", "reconstruction_feature")
        out = tensor_at(
            path,
            f"head '{model.heads['reconstruction_feature'].type}'",
            lambda: _probe(recon, features),
        )
        feature_shape = tuple(out.shape[1:])
    generator = at_path(
        ("model", "generator"),
        f"building generator '{model.generator.type}'",
        lambda: model.generator.build(dims=dims, feature_shape=feature_shape, registry=registry),
    )
    semantic = at_path(
        ("model", "semantic_encoder"),
        f"building semantic encoder '{model.semantic_encoder.type}'",
        lambda: model.semantic_encoder.build(dims=dims, registry=registry),
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
        need = cls.input_problem(ref.resolve(registry).params, in_shape)
        if need and in_shape[1:] == (1, 1):
            problems.append(
                Problem(
                    ("model", "heads", role),
                    f"heads.{role} ('{ref.type}') {need}, but trunk '{model.trunk.type}' gives "
                    f"one vector of {in_shape[0]} per sample (1×1)",
                    hint=f"set model.heads.{role}.params to kernel_size: 1, padding: 0 (a "
                    "linear layer over the vector)",
                )
            )
        elif need:
            how = trunk.describe()
            problems.append(
                Problem(
                    ("model", "heads", role),
                    f"heads.{role} ('{ref.type}') {need}, but trunk '{model.trunk.type}' gives "
                    f"{size_text(in_shape)} features at model.image_size={model.image_size}"
                    + (f" {how}" if how else ""),
                    hint="use fewer stride-2 blocks in the trunk, larger images, or a smaller "
                    "head kernel",
                )
            )
        if cls.condition and role in UNCONDITIONED_ROLES:
            problems.append(
                Problem(
                    ("model", "heads", role, "type"),
                    f"head '{ref.type}' is conditional (takes {', '.join(sorted(cls.condition))}), "
                    f"but evaluation and generation call the {role} head without a condition",
                    hint="put a conditional head under model.heads.real_fake or a role of your own",
                )
            )
    if problems:
        raise SpecError(problems)
    return {
        role: at_path(
            ("model", "heads", role),
            f"building head '{ref.type}'",
            lambda ref=ref: ref.build(dims=dims, in_shape=in_shape, registry=registry),
        )
        for role, ref in model.heads.items()
    }


def _build_terms(
    spec: Spec, phase: str, dims: Dims, registry: ComponentRegistry
) -> list[WeightedTerm]:
    terms = []
    for index, term in enumerate(getattr(spec.objective, phase)):
        loss = at_path(
            ("objective", phase, index),
            f"building loss '{term.type}'",
            lambda term=term: term.build(dims=dims, registry=registry),
        )
        trainable = [name for name, p in loss.named_parameters() if p.requires_grad]
        if trainable:
            raise SpecError(
                [
                    Problem(
                        ("objective", phase, index, "type"),
                        f"loss '{term.type}' has trainable parameters ({', '.join(trainable)}), "
                        "which no optimiser steps: zsk optimises the networks, not the losses",
                        hint="keep learned parts in a head (the discriminator's optimiser steps "
                        "it, and a head may add its own loss term), or freeze them as buffers",
                    )
                ]
            )
        terms.append(WeightedTerm(term.display_name, loss, term.weight))
    return terms


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
        yield from _component_refs(value.resolve(registry).params, (*path, "params"), registry)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _component_refs(getattr(value, name), (*path, name), registry)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _component_refs(item, (*path, key), registry)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _component_refs(item, (*path, index), registry)
