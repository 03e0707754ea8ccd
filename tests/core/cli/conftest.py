"""Fixtures the command-line tests share."""

from __future__ import annotations

import pytest

from tests import tiny_components


@pytest.fixture
def tiny_parts(tmp_path, monkeypatch):
    """The tiny components registered and their data set in ``tmp_path/data``."""
    monkeypatch.chdir(tmp_path)
    tiny_components.register()
    tiny_components.make_data(tmp_path / "data")
    yield tmp_path / "data"
    tiny_components.unregister()
