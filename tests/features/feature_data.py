"""A tiny synthetic feature data set for tests: class-structured non-negative vectors."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from zsk.core.data.types import FeatureSample, ZslData
from zsk.core.interfaces import Dataset
from zsk.registry import Component


def synthetic_features(
    *,
    classes: int = 8,
    unseen: int = 3,
    attributes: int = 6,
    feature_dim: int = 12,
    per_class: int = 10,
    seed: int = 0,
    root: Path = Path("synthetic-features"),
) -> ZslData:
    """Features ``relu(M t_c + noise)`` of a fixed random map M of each class's attributes t_c:
    unseen classes are new attribute combinations that a model can learn to place."""
    generator = torch.Generator().manual_seed(seed)
    table = (torch.rand(classes, attributes, generator=generator) > 0.5).float()
    mixing = torch.randn(attributes, feature_dim, generator=generator)
    labels = torch.arange(classes).repeat_interleave(per_class)
    noise = 0.3 * torch.randn(len(labels), feature_dim, generator=generator)
    features = torch.relu(table[labels] @ mixing + noise).float()
    seen = list(range(classes - unseen))
    unseen_classes = list(range(classes - unseen, classes))
    train, test_seen, test_unseen = [], [], []
    for row, label in enumerate(labels.tolist()):
        sample = FeatureSample(row, label)
        if label in unseen_classes:
            test_unseen.append(sample)
        elif row % per_class < per_class * 3 // 4:
            train.append(sample)
        else:
            test_seen.append(sample)
    return ZslData(
        root=root,
        classes=[f"class{c}" for c in range(classes)],
        predicates=[f"p{a}" for a in range(attributes)],
        attributes=table,
        seen=seen,
        unseen=unseen_classes,
        train=train,
        test_seen=test_seen,
        test_unseen=test_unseen,
        features=features,
    )


class SyntheticFeatures(Dataset):
    """The test data set :func:`synthetic_features` as a data set plugin."""

    name = "test_synthetic_features"

    class Params(Component.Params):
        classes: int = Field(8, ge=3)
        unseen: int = Field(3, ge=1)
        feature_dim: int = Field(12, ge=1)
        per_class: int = Field(10, ge=4)
        seed: int = 0

    def load(self) -> ZslData:
        p = self.params
        return synthetic_features(
            classes=p.classes,
            unseen=p.unseen,
            feature_dim=p.feature_dim,
            per_class=p.per_class,
            seed=p.seed,
        )


def feature_spec(**train) -> dict:
    """A small f-CLSWGAN-style spec over :class:`SyntheticFeatures` (12-d features, 6 attributes):
    MLP generator, identity trunk, conditional MLP critic, WGAN-GP, the classifier regulariser."""
    return {
        "name": "features",
        "data": {"type": SyntheticFeatures.name},
        "model": {
            "noise_dim": 6,
            "embedding_dim": 8,
            "generator": {"type": "feature_mlp", "params": {"hidden": [32]}},
            "trunk": {"type": "feature_mlp", "params": {"hidden": []}},
            "heads": {"real_fake": {"type": "concat_critic", "params": {"hidden": [32]}}},
            "semantic_encoder": {"type": "linear"},
        },
        "objective": {
            "discriminator": [{"type": "wgan_gp"}],
            "generator": [
                {"type": "wgan_gp"},
                {"type": "pretrained_classifier", "weight": 0.01, "params": {"epochs": 5}},
            ],
        },
        "train": {
            "batch_size": 8,
            "n_critic": 5,
            "steps": 4,
            "hflip": False,
            "log_every": 1,
            "checkpoint_every": 2,
            "optimizers": {
                "generator": {"lr": 1e-3, "betas": [0.5, 0.999]},
                "discriminator": {"lr": 1e-3, "betas": [0.5, 0.999]},
            },
            **train,
        },
    }
