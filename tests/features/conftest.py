"""The synthetic feature data set, registered as a data set plugin for the tests here."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: the helper module
from feature_data import SyntheticFeatures  # noqa: E402

from zsk.registry import hookimpl  # noqa: E402
from zsk.registry.manager import register_plugin, unregister_plugin  # noqa: E402


@pytest.fixture(autouse=True)
def synthetic_feature_plugin():
    @hookimpl
    def zsk_register_components(register):
        register(SyntheticFeatures)

    register_plugin(SimpleNamespace(zsk_register_components=zsk_register_components), "features")
    yield
    unregister_plugin("features")
