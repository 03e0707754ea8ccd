"""How zsk finds the example plugin: its plugin API range and, once installed, its entry point."""

from __future__ import annotations

from importlib import metadata

import pytest
from packaging.specifiers import SpecifierSet
from zsk.api import PLUGIN_API_VERSION, get_registry, plugin_failures, reload_plugins

import zsk_plugin_example
from zsk_plugin_example.datasets import ClassTable
from zsk_plugin_example.heads import AttributeProjection, LinearCritic
from zsk_plugin_example.losses import RelativisticAverageLSGAN
from zsk_plugin_example.metrics import ColourGap
from zsk_plugin_example.normalizers import PixelNorm

DISTRIBUTION = "zsk-plugin-example"


def test_declared_plugin_api_range_includes_the_installed_zsk():
    assert PLUGIN_API_VERSION in SpecifierSet(zsk_plugin_example.zsk_plugin_api)


def test_installed_entry_point_registers_every_component(monkeypatch):
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{DISTRIBUTION} is not installed; `pip install -e .` tests its entry point")
    monkeypatch.delenv("ZSK_LOAD_PLUGINS", raising=False)
    reload_plugins()
    try:
        failed = [f.as_dict() for f in plugin_failures() if f.distribution == DISTRIBUTION]
        assert failed == []
        registry = get_registry()
        for kind, name, cls in (
            ("loss", "ralsgan", RelativisticAverageLSGAN),
            ("normalizer", "pixel", PixelNorm),
            ("head", "attribute_projection", AttributeProjection),
            ("head", "linear_critic", LinearCritic),
            ("metric", "colour_gap", ColourGap),
            ("dataset", "class_table", ClassTable),
        ):
            entry = registry.get(kind, name)
            assert entry.cls is cls
            assert (entry.plugin, entry.distribution, entry.version) == (
                "zsk_plugin_example",
                DISTRIBUTION,
                version,
            )
    finally:
        reload_plugins()
