"""The plugin system: hook specifications, the plugin manager and the typed component registry.

This package knows nothing about GANs; it only knows that components of named kinds arrive from
plugins, and where each came from. The kinds themselves are declared by whoever defines their base
classes (zsk's core, in ``zsk.core.components.interfaces``).
"""

from zsk.registry.components import (
    Component,
    ComponentEntry,
    ComponentRegistry,
    declare_kinds,
    declared_kinds,
)
from zsk.registry.errors import RegistryError, UserError
from zsk.registry.hookspecs import PLUGIN_API_VERSION, hookimpl
from zsk.registry.manager import (
    DEFAULT_PLUGINS,
    DISTRIBUTION,
    PluginFailure,
    get_plugin_manager,
    get_registry,
    reset,
)

__all__ = [
    "DEFAULT_PLUGINS",
    "DISTRIBUTION",
    "PLUGIN_API_VERSION",
    "Component",
    "ComponentEntry",
    "ComponentRegistry",
    "PluginFailure",
    "RegistryError",
    "UserError",
    "declare_kinds",
    "declared_kinds",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "reset",
]
