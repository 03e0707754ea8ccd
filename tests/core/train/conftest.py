"""Fixtures of the trainer's tests: the tiny components registered, a tiny data set on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(
    0, str(Path(__file__).parent)
)  # --import-mode=importlib: make the helper importable
import train_fixtures  # noqa: E402


@pytest.fixture(autouse=True)
def _tiny_components():
    train_fixtures.register()
    try:
        yield
    finally:
        train_fixtures.unregister()


@pytest.fixture(autouse=True)
def _restore_torch_rng():
    with torch.random.fork_rng(devices=[]):
        yield


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-data")
    train_fixtures.make_data(root)
    return root


@pytest.fixture
def tiny_data(tiny_data_root):
    return train_fixtures.make_data(tiny_data_root)
