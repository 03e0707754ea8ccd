"""Fixtures every test folder shares."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_shapes() -> tuple[str, ...]:
    """``--set`` overrides that shrink examples/shapes.yaml to 16-pixel images and a few
    channels, so a test builds and trains it in seconds (without the validation run that the
    spec asks for)."""
    return (
        "model.image_size=16",
        "model.embedding_dim=8",
        "model.trunk.params.channels=[8,16]",
        "model.generator.params.base_channels=8",
        "model.generator.params.max_channels=16",
        "model.heads.reconstruction_feature.params.channels=8",
        "train.batch_size=8",
        "validation_run=null",
    )
