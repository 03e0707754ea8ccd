"""From class index, attributes and class lists to a :class:`ZslData` with its three image lists."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import torch

from zsk.core.components.zsl_data import Sample, ZslData
from zsk.registry import UserError

_Item = TypeVar("_Item", Path, int)


def scale_attributes(
    matrix: np.ndarray, divide_by: float, rows: Literal["none", "l2"]
) -> torch.Tensor:
    """``matrix / divide_by``, then optionally every row scaled to unit L2 length.

    Unit-length rows are what the field's benchmark files (``att_splits.mat`` of Xian et al.)
    hold; an all-zero row stays zero.
    """
    scaled = matrix / divide_by
    if rows == "l2":
        norms = np.linalg.norm(scaled, axis=1, keepdims=True)
        scaled = scaled / np.where(norms > 0, norms, 1.0)
    return torch.from_numpy(scaled.astype(np.float32))


def held_out(paths: list[_Item], fraction: float, seed: int, class_name: str) -> set[_Item]:
    """A deterministic share of one class's images (or feature rows) for the seen test set.

    Which images depends only on the seed, the class name and the file names, so adding a
    class or reordering the index never moves another class's images between the sets.
    """
    count = min(round(len(paths) * fraction), max(len(paths) - 1, 0))
    order = sorted(paths)
    random.Random(f"{seed}:{class_name}").shuffle(order)
    return set(order[:count])


def assemble(
    *,
    root: Path,
    classes: list[str],
    predicates: list[str],
    attributes: torch.Tensor,
    seen: dict[str, int],
    unseen: dict[str, int],
    seen_file: Path,
    unseen_file: Path,
    images_of: Callable[[str, str], list[Path]],
    seen_test_fraction: float,
    split_seed: int,
) -> ZslData:
    """Check the split and list each split's images.

    ``seen``/``unseen`` map class names to their line in ``seen_file``/``unseen_file``;
    ``images_of(name, listed_at)`` lists one class's image files.
    """
    for name, line in unseen.items():
        if name in seen:
            raise UserError(
                f"class '{name}' is in both splits (also {seen_file}:{seen[name]})",
                where=f"{unseen_file}:{line}",
                hint="a class is either seen (trained on) or unseen, not both",
            )
    train: list[Sample] = []
    test_seen: list[Sample] = []
    test_unseen: list[Sample] = []
    for label, name in enumerate(classes):
        if name in seen:
            paths = images_of(name, f"{seen_file}:{seen[name]}")
            chosen = held_out(paths, seen_test_fraction, split_seed, name)
            train += [Sample(p, label) for p in paths if p not in chosen]
            test_seen += [Sample(p, label) for p in paths if p in chosen]
        elif name in unseen:
            paths = images_of(name, f"{unseen_file}:{unseen[name]}")
            test_unseen += [Sample(p, label) for p in paths]
    return ZslData(
        root=root,
        classes=classes,
        predicates=predicates,
        attributes=attributes,
        seen=[i for i, n in enumerate(classes) if n in seen],
        unseen=[i for i, n in enumerate(classes) if n in unseen],
        train=train,
        test_seen=test_seen,
        test_unseen=test_unseen,
    )
