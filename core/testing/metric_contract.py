"""The metric contract: a metric computes JSON-ready values from a tiny made-up evaluation,
the same values twice for the same seed, without touching its inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from zsk.core.components.metric_inputs import LabelledImages, MetricInputs
from zsk.core.components.zsl_data import Sample, ZslData
from zsk.core.evaluate.metric_plugins import check_values
from zsk.core.spec.refs import typed_params
from zsk.registry import Component
from zsk.testing.errors import ContractError

#: Classes of the made-up evaluation: four seen, two unseen.
SEEN, UNSEEN = [0, 1, 2, 3], [4, 5]
IMAGE_SIZE = 16


def _images(labels: list[int], seed: int) -> LabelledImages:
    generator = torch.Generator().manual_seed(seed)
    shape = (len(labels), 3, IMAGE_SIZE, IMAGE_SIZE)
    return LabelledImages(
        torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8), torch.tensor(labels)
    )


def tiny_inputs(seed: int = 0) -> MetricInputs:
    """A made-up evaluation: random images of six classes, no networks (``gan`` is None)."""
    root = Path("made-up")
    classes = [f"class{i}" for i in range(6)]
    labels = {"train": SEEN * 2, "test_seen": SEEN, "test_unseen": UNSEEN * 2}
    split = {
        name: _images(values, seed + index) for index, (name, values) in enumerate(labels.items())
    }
    data = ZslData(
        root=root,
        classes=classes,
        predicates=["p0", "p1", "p2"],
        attributes=torch.rand(6, 3, generator=torch.Generator().manual_seed(seed)),
        seen=SEEN,
        unseen=UNSEEN,
        train=[Sample(root / f"{i}.png", c) for i, c in enumerate(labels["train"])],
        test_seen=[Sample(root / f"s{i}.png", c) for i, c in enumerate(labels["test_seen"])],
        test_unseen=[Sample(root / f"u{i}.png", c) for i, c in enumerate(labels["test_unseen"])],
    )
    return MetricInputs(
        data=data,
        imagined=_images(UNSEEN * 2, seed + 10),
        gan=None,
        device=torch.device("cpu"),
        batch_size=4,
        seed=seed,
        **split,
    )


def check_metric(
    cls: type[Component],
    params: dict[str, Any] | None = None,
    inputs: MetricInputs | None = None,
) -> None:
    """Check a metric class; raise ContractError saying what failed.

    Builds it with ``params`` (defaults when None), computes it twice on ``inputs`` (default
    :func:`tiny_inputs`: random images, no networks; pass a real run's inputs for a metric that
    needs the generator): the values are a dict of finite numbers, text or None by name, equal
    both times, and the input images are left unchanged.
    """
    label = f"metric '{cls.name}'"
    resolved = typed_params(cls, params)
    inputs = inputs or tiny_inputs()
    before = [part.images.clone() for part in _parts(inputs)]
    metric = cls(resolved)
    try:
        first = check_values(cls.name, metric.compute(inputs))
    except TypeError as exc:
        raise ContractError(f"{label}: {exc}") from None
    if not first:
        raise ContractError(f"{label}: returned no values")
    second = metric.compute(inputs)
    if second != first:
        raise ContractError(f"{label}: gives {second} the second time, {first} the first")
    for part, images in zip(_parts(inputs), before, strict=True):
        if not torch.equal(part.images, images):
            raise ContractError(f"{label}: changed its input images")


def _parts(inputs: MetricInputs) -> list[LabelledImages]:
    return [inputs.train, inputs.test_seen, inputs.test_unseen, inputs.imagined]
