"""Fixtures of the trainer's tests: the tiny components registered, a tiny data set on disk."""

from __future__ import annotations

import pytest
import torch

from tests import tiny_components


@pytest.fixture(autouse=True)
def _tiny_components():
    with tiny_components.registered():
        yield


@pytest.fixture(autouse=True)
def _restore_torch_rng():
    with torch.random.fork_rng(devices=[]):
        yield


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-data")
    tiny_components.make_data(root)
    return root


@pytest.fixture
def tiny_data(tiny_data_root):
    return tiny_components.make_data(tiny_data_root)
