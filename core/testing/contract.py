"""The component contract: what every registered component must do, checked at tiny sizes on CPU.

``check_component(cls)`` builds a component with its default params (or the given ones), runs it
forward and backward, and checks output shapes, dtypes and finite values, that every trainable
parameter receives a gradient, and that its state dict round-trips through safetensors into a
fresh instance that computes the same outputs. Plugin authors run the very checks zsk runs::

    from zsk.testing import check_component, iter_components

    @pytest.mark.parametrize("entry", iter_components(kinds=["loss"]), ids=lambda e: e.name)
    def test_contract(entry):
        check_component(entry.cls)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from zsk.core.components.interfaces import CONDITION_PARTS, Condition, Dims
from zsk.core.data.reader_output import output_problem
from zsk.core.spec.refs import typed_params
from zsk.core.spec.sections import PHASES
from zsk.registry import Component, ComponentEntry, ComponentRegistry, get_registry
from zsk.testing.batch_checks import (
    Draw,
    Inputs,
    Run,
    check_batch_of_one,
    check_pools_positions,
    check_reads_condition,
    check_reads_input,
    check_samples_independent,
)
from zsk.testing.errors import ContractError
from zsk.testing.metric_contract import check_metric
from zsk.testing.toy_step import check_loss

#: The sizes components are checked at unless a test gives others.
TINY_DIMS = Dims(
    image_size=32, num_attributes=8, num_seen_classes=4, embedding_dim=16, noise_dim=8, channels=3
)
BATCH = 2
#: Trunk features a head is checked on, and the reconstruction features a generator decodes.
HEAD_IN_SHAPE = (16, 4, 4)
FEATURE_SHAPE = (8, 4, 4)


def iter_components(
    registry: ComponentRegistry | None = None, kinds: Iterable[str] | None = None
) -> Iterator[ComponentEntry]:
    """Every registered component (of the given kinds), sorted by kind and name."""
    registry = registry or get_registry()
    wanted = set(kinds) if kinds is not None else None
    for entry in registry.list():
        if wanted is None or entry.kind in wanted:
            yield entry


def check_component(
    cls: type[Component],
    *,
    params: dict[str, Any] | None = None,
    dims: Dims | None = None,
    in_shape: tuple[int, int, int] = HEAD_IN_SHAPE,
) -> None:
    """Check ``cls`` against the contract of its kind; raise ContractError saying what failed.

    ``params`` are the component's params as a spec would give them (defaults when None);
    a dataset needs them (at least its root). ``dims`` defaults to :data:`TINY_DIMS`;
    ``in_shape`` is the (C, H, W) of the trunk features a head is checked on.
    """
    label = f"{cls.kind} '{cls.name}'"
    if cls.kind == "loss":
        check_loss(cls, params, dims)
        return
    if cls.kind == "dataset":
        _check_dataset(cls, params, label)
        return
    if cls.kind == "metric":
        check_metric(cls, params)
        return
    checks: dict[str, Callable[..., None]] = {
        "normalizer": _check_normalizer,
        "attention": _check_attention,
        "generator": _check_generator,
        "trunk": _check_trunk,
        "head": lambda *args: _check_head(*args, in_shape),
        "semantic_encoder": _check_semantic_encoder,
    }
    if cls.kind not in checks:
        raise ContractError(f"{label}: no contract for kind {cls.kind!r}")
    resolved = typed_params(cls, params)
    checks[cls.kind](cls, resolved, dims or TINY_DIMS, label)


def _check_network(
    label: str,
    build: Callable[[], nn.Module],
    draw: Draw,
    run: Run,
    check_outputs: Callable[[tuple[torch.Tensor, ...]], None],
) -> nn.Module:
    """Forward, output checks, backward with gradients everywhere, a batch of one, samples kept
    apart, safetensors round trip. ``draw(batch, seed)`` gives the inputs ``run`` takes."""
    torch.manual_seed(0)
    module = build()
    module.train()
    inputs = draw(BATCH, 0)
    outputs = run(module, inputs)
    for index, out in enumerate(outputs):
        if out.dtype != torch.float32:
            raise ContractError(f"{label}: output {index} has dtype {out.dtype}")
        if not torch.isfinite(out).all():
            raise ContractError(f"{label}: output {index} has non-finite values")
    check_outputs(outputs)
    trainable = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if trainable:
        loss = sum(out.square().mean() for out in outputs)
        loss.backward()
        missing = [name for name, p in trainable if p.grad is None]
        if missing:
            raise ContractError(f"{label}: no gradient reaches {', '.join(missing)}")
        bad = [name for name, p in trainable if not torch.isfinite(p.grad).all()]
        if bad:
            raise ContractError(f"{label}: non-finite gradients in {', '.join(bad)}")
    check_batch_of_one(label, module, draw, run)
    check_samples_independent(label, module, draw, run)
    _check_round_trip(label, module, build, lambda m: run(m, inputs))
    return module


def _check_round_trip(
    label: str,
    module: nn.Module,
    build: Callable[[], nn.Module],
    run: Callable[[nn.Module], Any],
) -> None:
    state = module.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.safetensors"
        try:
            save_file(state, str(path))
        except (RuntimeError, ValueError) as exc:
            raise ContractError(
                f"{label}: state dict does not save as safetensors: {exc}"
            ) from None
        loaded = load_file(str(path))
    torch.manual_seed(1)
    fresh = build()
    fresh.load_state_dict(loaded, strict=True)
    module.eval()
    fresh.eval()
    with torch.no_grad():
        torch.manual_seed(2)
        before = run(module)
        torch.manual_seed(2)
        after = run(fresh)
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        if not torch.allclose(a, b, atol=1e-5):
            raise ContractError(
                f"{label}: output {index} differs after a safetensors round trip of the state dict"
            )


def _expect_shape(label: str, what: str, out: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(out.shape) != shape:
        raise ContractError(f"{label}: {what} has shape {tuple(out.shape)}, not {shape}")


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _images(dims: Dims, batch: int, seed: int) -> torch.Tensor:
    """Images in [-1, 1], or feature vectors in [0, 1) when ``dims.feature_dim`` is set."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand((batch, *dims.sample_shape), generator=generator)
    return values if dims.feature_dim else values * 2 - 1


def _one_input(make: Callable[[int, int], torch.Tensor]) -> Draw:
    return lambda batch, seed: (make(batch, seed),)


def _check_normalizer(cls: type[Component], params: Any, dims: Dims, label: str) -> None:
    normalizer = cls(params)
    roles = getattr(cls, "roles", frozenset())
    if not roles:
        raise ContractError(f"{label}: declares no roles (weight and/or feature)")
    # 16 channels: divisible by any usual number of groups
    draw = _one_input(lambda batch, seed: _randn(batch, 16, 8, 8, seed=seed))
    run: Run = lambda m, inputs: (m(inputs[0]),)  # noqa: E731
    if "weight" in roles:
        _check_network(
            label,
            lambda: normalizer.wrap(nn.Conv2d(16, 6, 3, padding=1)),
            draw,
            run,
            lambda out: _expect_shape(label, "the wrapped conv's output", out[0], (BATCH, 6, 8, 8)),
        )
    if "feature" in roles:
        _check_network(
            label,
            lambda: normalizer.feature(16),
            draw,
            run,
            lambda out: _expect_shape(
                label, "the feature layer's output", out[0], (BATCH, 16, 8, 8)
            ),
        )


def _check_attention(cls: type[Component], params: Any, dims: Dims, label: str) -> None:
    _check_network(
        label,
        lambda: cls(params, channels=16),
        _one_input(lambda batch, seed: _randn(batch, 16, 4, 4, seed=seed)),
        lambda m, inputs: (m(inputs[0]),),
        lambda out: _expect_shape(label, "output", out[0], (BATCH, 16, 4, 4)),
    )


def _check_generator(cls: type[Component], params: Any, dims: Dims, label: str) -> None:
    """Images in [-1, 1] of the dims' size; with ``dims.feature_dim``, feature vectors (which
    have no range and no reconstruction path to decode)."""
    image_shape = (BATCH, *dims.sample_shape)
    features_only = bool(dims.feature_dim)

    def draw(batch: int, seed: int) -> Inputs:
        generator = torch.Generator().manual_seed(seed)
        return (
            torch.rand(batch, dims.num_attributes, generator=generator),
            _images(dims, batch, seed + 100),
            torch.randn(batch, dims.noise_dim, generator=generator),
            torch.randn(batch, *FEATURE_SHAPE, generator=generator),
        )

    def run(g: nn.Module, inputs: Inputs) -> tuple[torch.Tensor, ...]:
        attributes, images, noise, features = inputs
        source = images if g.source_images != "unused" else None
        outputs = [g(attributes, images=source, noise=noise)]
        if not features_only:
            outputs.append(g.decode_features(features))
        if g.source_images == "optional":
            outputs.append(g(attributes, images=None, noise=noise))
        return tuple(outputs)

    def check(out: tuple[torch.Tensor, ...]) -> None:
        names = ("forward", "decode_features", "forward without a source image")
        for what, image in zip(names, out, strict=False):
            _expect_shape(label, f"{what} output", image, image_shape)
            in_range = features_only or image.abs().max() <= 1
            if not in_range:
                raise ContractError(f"{label}: {what} output leaves [-1, 1]")

    generator = _check_network(
        label, lambda: cls(params, dims=dims, feature_shape=FEATURE_SHAPE), draw, run, check
    )
    check_reads_input(label, generator, draw, run, 0, "attributes")
    if generator.takes_noise:
        check_reads_input(label, generator, draw, run, 2, "noise")


def _check_trunk(cls: type[Component], params: Any, dims: Dims, label: str) -> None:
    def check(out: tuple[torch.Tensor, ...]) -> None:
        if out[0].dim() != 4 or out[0].shape[0] != BATCH:
            raise ContractError(
                f"{label}: output has shape {tuple(out[0].shape)}, not (B, C, H, W)"
            )

    _check_network(
        label,
        lambda: cls(params, dims=dims),
        _one_input(lambda batch, seed: _images(dims, batch, seed)),
        lambda m, inputs: (m(inputs[0]),),
        check,
    )


def _check_head(
    cls: type[Component], params: Any, dims: Dims, label: str, in_shape: tuple[int, int, int]
) -> None:
    problem = cls.input_problem(params, in_shape)
    if problem is not None:
        raise ContractError(f"{label}: refuses {in_shape} features: {problem}")
    unknown = set(cls.condition) - CONDITION_PARTS
    if unknown:
        raise ContractError(
            f"{label}: condition names {sorted(unknown)}; parts: {sorted(CONDITION_PARTS)}"
        )
    draw, run = _head_inputs(dims, in_shape), _head_outputs(cls, label)
    head = _check_network(
        label,
        lambda: cls(params, dims=dims, in_shape=in_shape),
        draw,
        run,
        lambda out: _check_head_outputs(cls, dims, label, out),
    )
    if cls.condition:
        check_reads_condition(label, head, draw, run)
    check_pools_positions(label, head, draw, run)


def _head_inputs(dims: Dims, in_shape: tuple[int, int, int]) -> Draw:
    """A head's inputs: trunk features, and the judged images' attributes, labels and ψ."""

    def draw(batch: int, seed: int) -> Inputs:
        generator = torch.Generator().manual_seed(seed)
        return (
            torch.randn(batch, *in_shape, generator=generator),
            torch.rand(batch, dims.num_attributes, generator=generator),
            torch.randint(dims.num_seen_classes, (batch,), generator=generator),
            torch.randn(batch, dims.embedding_dim, generator=generator),
        )

    return draw


def _head_outputs(cls: type[Component], label: str) -> Run:
    """What the step reads of a head: its output; an embedding head's class logits; a
    conditional head's own loss term for each phase and source it declares (a scalar)."""

    def run(head: nn.Module, inputs: Inputs) -> tuple[torch.Tensor, ...]:
        features, attributes, labels, semantic = inputs
        if not cls.condition:
            out = head(features)
            logits = head.class_logits(out) if cls.role == "embedding" else None
            return (out,) if logits is None else (out, logits)
        condition = Condition(attributes, labels, semantic if "semantic" in cls.condition else None)
        outputs = [head.judge(features, condition)]
        for phase in PHASES:
            for source in head.auxiliary_sources(phase):
                extra = head.auxiliary_loss(features, condition, phase, source)
                if extra is not None and extra.dim() != 0:
                    raise ContractError(f"{label}: auxiliary_loss is not a scalar")
                outputs += [] if extra is None else [extra]
        return tuple(outputs)

    return run


def _check_head_outputs(
    cls: type[Component], dims: Dims, label: str, out: tuple[torch.Tensor, ...]
) -> None:
    """A head's output has its role's shape (see :class:`~zsk.api.Head`)."""
    first = out[0]
    if cls.role == "real_fake":
        per_image = tuple(first.shape) == (BATCH,)
        per_patch = first.dim() == 4 and tuple(first.shape[:2]) == (BATCH, 1)
        if not (per_image or per_patch):
            raise ContractError(
                f"{label}: scores have shape {tuple(first.shape)}, not (B,) or (B, 1, h, w)"
            )
    elif cls.role == "attribute":
        _expect_shape(label, "output", first, (BATCH, dims.num_attributes))
    elif cls.role == "embedding" and not cls.condition:
        _expect_shape(label, "φ(x)", first, (BATCH, dims.embedding_dim))
        if len(out) > 1:
            _expect_shape(label, "class logits", out[1], (BATCH, dims.num_seen_classes))
    elif first.shape[0] != BATCH:
        raise ContractError(f"{label}: output's first dimension is not the batch")


def _check_semantic_encoder(cls: type[Component], params: Any, dims: Dims, label: str) -> None:
    _check_network(
        label,
        lambda: cls(params, dims=dims),
        _one_input(lambda batch, seed: _rand(batch, dims.num_attributes, seed=seed)),
        lambda m, inputs: (m(inputs[0]),),
        lambda out: _expect_shape(label, "output", out[0], (BATCH, dims.embedding_dim)),
    )


def _check_dataset(cls: type[Component], params: dict[str, Any] | None, label: str) -> None:
    """What ``zsk data check`` and ``zsk build`` require of a reader's output
    (:func:`zsk.core.data.reader_output.output_problem`), and that its split covers every
    class."""
    if params is None:
        raise ContractError(f"{label}: pass params (at least the data set's root) to check it")
    data = cls(typed_params(cls, params)).load()
    problem = output_problem(data)
    if problem is not None:
        raise ContractError(f"{label}: read {problem}")
    uncovered = set(range(len(data.classes))) - set(data.seen) - set(data.unseen)
    if uncovered:
        first = data.classes[min(uncovered)]
        raise ContractError(f"{label}: class '{first}' is neither seen nor unseen")
