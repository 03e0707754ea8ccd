"""Fixtures of the CLI's fault tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "train"))
import train_fixtures  # noqa: E402


@pytest.fixture
def tiny_parts(tmp_path, monkeypatch):
    """The tiny test components registered and their data set in ``tmp_path/data`` (the working
    folder is ``tmp_path``); the components are unregistered afterwards."""
    monkeypatch.chdir(tmp_path)
    train_fixtures.register()
    train_fixtures.make_data(tmp_path / "data")
    yield tmp_path / "data"
    train_fixtures.unregister()
