"""Fixtures that give each test a freshly loaded plugin manager, restored afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from zsk.registry import manager


@dataclass
class FakeEntryPoint:
    """Stands in for an installed distribution's entry point in the group `zsk`."""

    name: str
    target: Any
    dist_name: str = "zsk-fake"
    dist_version: str = "0.3.1"

    @property
    def dist(self) -> SimpleNamespace:
        return SimpleNamespace(name=self.dist_name, version=self.dist_version)

    def load(self) -> Any:
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


@pytest.fixture
def entry_point():
    """The :class:`FakeEntryPoint` class."""
    return FakeEntryPoint


@pytest.fixture
def fresh_manager():
    manager.reset()
    yield manager
    manager.reset()


@pytest.fixture
def installed(monkeypatch, fresh_manager):
    """Pretend these entry points are installed: ``installed(FakeEntryPoint(...), ...)``."""

    def install(*entry_points: FakeEntryPoint) -> None:
        monkeypatch.setattr(
            manager.metadata,
            "entry_points",
            lambda group: list(entry_points) if group == "zsk" else [],
        )
        manager.reset()

    return install
