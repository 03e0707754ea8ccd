"""The synthetic feature data set, registered as a data set plugin for the tests here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.features.feature_data import SyntheticFeatures
from zsk.registry import hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin


@pytest.fixture(autouse=True)
def synthetic_feature_plugin():
    @hookimpl
    def zsk_register_components(register):
        register(SyntheticFeatures)

    register_plugin(SimpleNamespace(zsk_register_components=zsk_register_components), "features")
    yield
    unregister_plugin("features")
