"""The plugin manager: built-ins, entry points, the allow-list and isolation of broken plugins."""

from __future__ import annotations

from types import SimpleNamespace

import pluggy
import pytest
from pydantic import BaseModel

from zsk.core.components.interfaces import KINDS
from zsk.registry import DISTRIBUTION, Component, RegistryError, hookimpl


class Relativistic(Component):
    """A relativistic loss from a third-party package."""

    kind = "loss"
    name = "ra_test"


def _plugin(*classes):
    @hookimpl
    def zsk_register_components(register):
        for cls in classes:
            register(cls)

    return SimpleNamespace(zsk_register_components=zsk_register_components)


def test_builtins_register_every_kind_under_the_zsk_distribution(fresh_manager):
    entries = fresh_manager.get_registry().list()
    assert {e.kind for e in entries} == set(KINDS)
    assert all(e.distribution == DISTRIBUTION for e in entries)
    assert all(e.version == fresh_manager.zsk_version() for e in entries)
    assert {e.plugin for e in entries} <= set(fresh_manager.DEFAULT_PLUGINS)


def test_hook_zsk_register_components_from_a_plugin_registered_in_a_test(fresh_manager):
    fresh_manager.register_plugin(_plugin(Relativistic), name="my-test-plugin")
    try:
        entry = fresh_manager.get_registry().get("loss", "ra_test")
        assert (entry.plugin, entry.distribution) == ("my-test-plugin", "(local)")
    finally:
        fresh_manager.unregister_plugin("my-test-plugin")
    with pytest.raises(RegistryError):
        fresh_manager.get_registry().get("loss", "ra_test")


def test_entry_point_components_carry_their_distribution(installed, fresh_manager, entry_point):
    installed(entry_point("fake", _plugin(Relativistic), "zsk-fake", "0.3.1"))
    entry = fresh_manager.get_registry().get("loss", "ra_test")
    assert (entry.plugin, entry.distribution, entry.version) == ("fake", "zsk-fake", "0.3.1")


def test_broken_entry_point_is_shown_as_failed_and_the_rest_works(
    installed, fresh_manager, entry_point
):
    installed(
        entry_point("broken", ImportError("No module named 'torch_extra'"), "zsk-broken"),
        entry_point("fine", _plugin(Relativistic), "zsk-fine"),
    )
    registry = fresh_manager.get_registry()
    assert registry.get("loss", "ra_test").distribution == "zsk-fine"
    assert registry.get("loss", "lsgan").distribution == DISTRIBUTION
    (failure,) = fresh_manager.failures()
    assert failure.plugin == "broken" and failure.distribution == "zsk-broken"
    assert "import failed: ImportError: No module named 'torch_extra'" in failure.error


def test_exception_inside_a_hook_drops_only_that_plugin(installed, fresh_manager, entry_point):
    @hookimpl
    def zsk_register_components(register):
        register(Relativistic)
        raise RuntimeError("half-way")

    installed(
        entry_point("halfway", SimpleNamespace(zsk_register_components=zsk_register_components))
    )
    registry = fresh_manager.get_registry()
    with pytest.raises(RegistryError):
        registry.get("loss", "ra_test")  # its partial registrations are removed too
    (failure,) = fresh_manager.failures()
    assert "zsk_register_components raised RuntimeError: half-way" in failure.error


def test_component_with_malformed_params_fails_alone(installed, fresh_manager, entry_point):
    class Sloppy(Component):
        """Accepts any key."""

        kind = "loss"
        name = "sloppy"
        Params = type("Params", (BaseModel,), {})

    installed(entry_point("sloppy-plugin", _plugin(Sloppy, Relativistic)))
    registry = fresh_manager.get_registry()
    assert registry.get("loss", "ra_test")
    (failure,) = fresh_manager.failures()
    assert failure.component == "loss 'sloppy'" and "must refuse unknown keys" in failure.error


def test_duplicate_of_a_builtin_is_reported_not_fatal(installed, fresh_manager, entry_point):
    class Lsgan(Component):
        """An impostor."""

        kind = "loss"
        name = "lsgan"

    installed(entry_point("dup", _plugin(Lsgan), "zsk-dup"))
    registry = fresh_manager.get_registry()
    assert registry.get("loss", "lsgan").distribution == DISTRIBUTION
    (failure,) = fresh_manager.failures()
    assert "duplicate loss 'lsgan'" in failure.error and "zsk-dup" in failure.error


def test_allow_list_limits_which_distributions_load(
    installed, fresh_manager, monkeypatch, entry_point
):
    monkeypatch.setenv("ZSK_LOAD_PLUGINS", "")
    installed(entry_point("fake", _plugin(Relativistic), "zsk-fake"))
    registry = fresh_manager.get_registry()
    assert registry.list("loss")  # built-ins still load
    with pytest.raises(RegistryError):
        registry.get("loss", "ra_test")
    monkeypatch.setenv("ZSK_LOAD_PLUGINS", "other, ZSK-FAKE")
    fresh_manager.reset()
    assert fresh_manager.get_registry().get("loss", "ra_test")


def test_an_unknown_name_names_the_plugin_that_the_allow_list_left_out(
    installed, fresh_manager, monkeypatch, entry_point
):
    monkeypatch.setenv("ZSK_LOAD_PLUGINS", "zsk-other")
    installed(entry_point("fake", _plugin(Relativistic), "zsk-fake"))
    with pytest.raises(RegistryError) as caught:
        fresh_manager.get_registry().get("loss", "ra_test")
    assert (
        "plugin 'fake' of the installed zsk-fake is not loaded: ZSK_LOAD_PLUGINS does not list "
        "zsk-fake (add it there, or unset it)" in caught.value.message
    )


def test_misspelled_hook_implementation_is_rejected(installed, fresh_manager, entry_point):
    @hookimpl
    def zsk_register_component(register):  # missing the trailing "s"
        register(Relativistic)

    with pytest.raises(pluggy.PluginValidationError):
        fresh_manager.register_plugin(
            SimpleNamespace(zsk_register_component=zsk_register_component), name="typo"
        )
    fresh_manager.reset()
    installed(entry_point("typo", SimpleNamespace(zsk_register_component=zsk_register_component)))
    fresh_manager.get_registry()
    (failure,) = fresh_manager.failures()
    assert failure.plugin == "typo" and "invalid hook implementation" in failure.error


def test_two_entry_points_with_one_name_do_not_crash_zsk(installed, fresh_manager, entry_point):
    installed(
        entry_point("shared", _plugin(Relativistic), "zsk-first"),
        entry_point("shared", _plugin(), "zsk-second"),
    )
    assert fresh_manager.get_registry().get("loss", "ra_test").distribution == "zsk-first"
    (failure,) = fresh_manager.failures()
    assert failure.distribution == "zsk-second"
    assert "entry point name 'shared' is already used by zsk-first" in failure.error
