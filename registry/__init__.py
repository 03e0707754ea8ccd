"""The plugin system: hook specifications, the plugin manager and the typed component registry.

This package knows nothing about GANs; it only knows that components of named kinds arrive from
plugins, and where each came from.
"""

from zsk.registry.components import (
    KINDS,
    ROLES,
    Component,
    ComponentEntry,
    ComponentRegistry,
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
    "KINDS",
    "PLUGIN_API_VERSION",
    "ROLES",
    "Component",
    "ComponentEntry",
    "ComponentRegistry",
    "PluginFailure",
    "RegistryError",
    "UserError",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "reset",
]
