"""A small f-CLSWGAN-style spec over the tiny feature set of :mod:`zsk.testing.features`."""

from __future__ import annotations

from zsk.testing.features import SyntheticFeatures, synthetic_features

__all__ = ["SyntheticFeatures", "feature_spec", "synthetic_features"]


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
