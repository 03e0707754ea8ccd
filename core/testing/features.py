"""Synthetic feature data sets, for tests (tiny) and the feature benchmarks (AwA2-sized).

One recipe serves both: every class ``c`` has continuous attributes ``t_c`` (85 at AwA2's size,
each row of unit length as the benchmark files' ``att``), and its features are

    x = relu((t_c + offset · σ ⊙ η_c) M + noise · ε),   then scaled to a mean value of 0.5,

with ``M`` a fixed random map (standard normal entries), ``η_c`` and ``ε`` standard normal, and
``σ`` the attributes' spread over classes. Two knobs set how hard the set is:

- ``offset`` is what the attributes do not describe: each class's features come from its
  attributes moved by a class-specific amount (in units of the attributes' own spread), which no
  learner can infer from ``t_c`` for an unseen class. It is what keeps zero-shot accuracy below
  1 at any sample size.
- ``noise`` is the within-class spread (in units of ``M``'s entries); it sets how separable the
  seen classes are.

At ``offset=0`` and small ``noise`` (the defaults) a model learns the set quickly, as tests
want. The benchmarks' AwA2-sized setting is in ``benchmarks/speed/bench_features.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from pydantic import Field

from zsk.core.components.interfaces import Dataset
from zsk.core.components.zsl_data import FeatureSample, ZslData
from zsk.registry import Component

#: the features' mean value after scaling, so that the knobs do not change the features' scale
MEAN_VALUE = 0.5


def synthetic_features(
    *,
    classes: int = 8,
    unseen: int = 3,
    validation: int = 0,
    attributes: int = 6,
    feature_dim: int = 12,
    per_class: int = 10,
    test_share: float = 0.25,
    noise: float = 0.3,
    offset: float = 0.0,
    seed: int = 0,
    root: Path = Path("synthetic-features"),
) -> ZslData:
    """A deterministic feature set (see module): the last ``unseen`` classes unseen, the
    ``validation`` seen classes before them the set's validation classes (as the benchmark
    files' ``val_loc``), each seen class's last ``test_share`` of samples its seen test samples."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.nn.functional.normalize(torch.rand(classes, attributes, generator=generator))
    mixing = torch.randn(attributes, feature_dim, generator=generator)
    moved = torch.randn(classes, attributes, generator=generator)
    spread = table.std(dim=0) if classes > 1 else torch.zeros(attributes)
    labels = torch.arange(classes).repeat_interleave(per_class)
    within = torch.randn(len(labels), feature_dim, generator=generator)
    means = (table + offset * spread * moved) @ mixing
    features = torch.relu(means[labels] + noise * within)
    features *= MEAN_VALUE / features.mean().clamp_min(1e-12)
    seen = list(range(classes - unseen))
    unseen_classes = list(range(classes - unseen, classes))
    kept = per_class - math.ceil(per_class * test_share - 1e-9)  # 10 at 0.25: 7 kept
    train, test_seen, test_unseen = [], [], []
    for row, label in enumerate(labels.tolist()):
        sample = FeatureSample(row, label)
        if label in unseen_classes:
            test_unseen.append(sample)
        else:
            (train if row % per_class < kept else test_seen).append(sample)
    return ZslData(
        root=root,
        classes=[f"class{c:02d}" for c in range(classes)],
        predicates=[f"p{a:02d}" for a in range(attributes)],
        attributes=table,
        seen=seen,
        unseen=unseen_classes,
        train=train,
        test_seen=test_seen,
        test_unseen=test_unseen,
        features=features.contiguous(),
        validation_classes=seen[len(seen) - validation :] if validation else None,
    )


class SyntheticFeatures(Dataset):
    """:func:`synthetic_features` as a data set plugin (register it in tests and benchmarks)."""

    name = "synthetic_features"

    class Params(Component.Params):
        classes: int = Field(8, ge=3)
        unseen: int = Field(3, ge=1)
        validation: int = Field(0, ge=0)
        attributes: int = Field(6, ge=1)
        feature_dim: int = Field(12, ge=1)
        per_class: int = Field(10, ge=4)
        test_share: float = Field(0.25, gt=0, lt=1)
        noise: float = Field(0.3, ge=0)
        offset: float = Field(0.0, ge=0)
        seed: int = 0

    def load(self) -> ZslData:
        return synthetic_features(**self.params.model_dump())
