"""The hooks a zsk plugin may implement.

Every hook here is documented in CONTRIBUTING.md and exercised by a test; ``tests/registry``
fails when one is not. Implement a hook with the :data:`hookimpl` marker::

    from zsk.api import hookimpl

    @hookimpl
    def zsk_register_components(register):
        register(MyLoss)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "zsk"
ENTRY_POINT_GROUP = "zsk"

#: The version of the plugin interface: hooks and everything in ``zsk.api``. A plugin declares
#: the range it supports with a module attribute, e.g. ``zsk_plugin_api = ">=3.0,<4"``; a plugin
#: outside its range is reported, not loaded.
PLUGIN_API_VERSION = "3.2"

#: What each major version of the plugin API changed, for the message a plugin made for the
#: previous major version gets.
MAJOR_CHANGES: dict[int, str] = {
    3: "moved every name a plugin imports to zsk.api and builds components with keyword-only "
    "inputs",
}

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zsk_register_components(register: Callable[..., Any]) -> None:
    """Register this plugin's components.

    Called once per process, the first time the component registry is needed (``zsk plugins``,
    ``zsk build``, ``zsk train`` and anything that reads a spec).

    :param register: call ``register(ComponentClass)`` for each component; the kind comes from
        the class's base class. ``register(ComponentClass, override=True)`` replaces a component
        of the same kind and name on purpose (without it, a duplicate is an error).
    """


@hookspec
def zsk_register_commands(cli: Any) -> None:
    """Add commands to the ``zsk`` command line.

    Called once when the ``zsk`` command starts, before arguments are parsed.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)`` or decorate
        functions with ``@cli.command()``.
    """
