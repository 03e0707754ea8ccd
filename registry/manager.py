"""One plugin manager for the process: built-ins and installed packages arrive by the same road.

Built-in plugins are the modules listed in :data:`DEFAULT_PLUGINS`. Installed distributions
publish an entry point in the group ``zsk``; the environment variable ``ZSK_LOAD_PLUGINS``
(comma-separated distribution names; set but empty means none) limits which of those load.
A plugin that fails to import, to register, or that supports another plugin API version is
recorded as a :class:`PluginFailure` and never stops the rest from working: whatever it raises,
``SystemExit`` and ``KeyboardInterrupt`` included, is that plugin's failure.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from zsk.registry import hookspecs
from zsk.registry.components import Component, ComponentRegistry
from zsk.registry.errors import UserError

DEFAULT_PLUGINS: tuple[str, ...] = (
    "zsk.plugins.builtin.normalizers",
    "zsk.plugins.builtin.attention",
    "zsk.plugins.builtin.generators",
    "zsk.plugins.builtin.trunks",
    "zsk.plugins.builtin.heads",
    "zsk.plugins.builtin.conditional_heads",
    "zsk.plugins.builtin.feature_networks",
    "zsk.plugins.builtin.feature_losses",
    "zsk.plugins.builtin.semantic_encoders",
    "zsk.plugins.builtin.losses",
    "zsk.plugins.builtin.datasets.image_folders",
    "zsk.plugins.builtin.datasets.features",
    "zsk.plugins.builtin.datasets.benchmarks",
    "zsk.plugins.builtin.metrics",
)

LOAD_PLUGINS_ENV = "ZSK_LOAD_PLUGINS"

#: zsk's distribution name on the package index (``zsk`` there is an unrelated project); the
#: import package and the command stay ``zsk``.
DISTRIBUTION = "zsk-toolkit"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin (or one of its components) that could not be loaded, and why."""

    plugin: str
    error: str
    distribution: str = ""
    component: str = ""
    details: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, str]:
        row = {"plugin": self.plugin, "error": self.error, "distribution": self.distribution}
        if self.component:
            row["component"] = self.component
        return row


@dataclass
class _State:
    pm: pluggy.PluginManager
    failures: list[PluginFailure]
    filtered_out: list[tuple[str, str]]  # (plugin, distribution) left out by ZSK_LOAD_PLUGINS
    provenance: dict[str, tuple[str, str]]  # plugin name -> (distribution, version)
    registry: ComponentRegistry | None = None


_state: _State | None = None


def zsk_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip().lower() for name in raw.split(",") if name.strip()}


def _api_mismatch(plugin: Any) -> str | None:
    wanted = getattr(plugin, "zsk_plugin_api", None)
    if wanted is None:
        return None
    try:
        supported = SpecifierSet(str(wanted))
    except InvalidSpecifier:
        return f"declares zsk_plugin_api = {wanted!r}, which is not a version range like '>=1,<2'"
    if hookspecs.PLUGIN_API_VERSION in supported:
        return None
    message = (
        f"supports zsk plugin API {wanted} but this zsk provides plugin API "
        f"{hookspecs.PLUGIN_API_VERSION}"
    )
    major = int(hookspecs.PLUGIN_API_VERSION.split(".")[0])
    change = hookspecs.MAJOR_CHANGES.get(major)
    if change and f"{major - 1}.0" in supported:
        message += (
            f"; plugin API {major} {change}, so a plugin made for {major - 1}.x is not loaded: "
            f"install a release of it made for plugin API {major}, or a zsk that provides "
            f"plugin API {wanted} (docs/plugin-guide.md, 'Migrating from plugin API "
            f"{major - 1}', tells its author what to change)"
        )
    return message


def _new_state() -> _State:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    state = _State(pm=pm, failures=[], filtered_out=[], provenance={})
    version = zsk_version()
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        state.provenance[module_name] = (DISTRIBUTION, version)
    _load_entry_points(state)
    pm.check_pending()
    return state


def _load_entry_points(state: _State) -> None:
    allowed = _allowed_distributions()
    for entry_point in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.name if dist is not None else "(unknown)"
        dist_version = dist.version if dist is not None else ""
        if allowed is not None and dist_name.lower() not in allowed:
            state.filtered_out.append((entry_point.name, dist_name))
            continue
        plugin_name = entry_point.name
        try:
            plugin = entry_point.load()
        except BaseException as exc:  # SystemExit or Ctrl-C in a plugin's import
            # is that plugin's failure: it must not end or silence every command
            state.failures.append(
                PluginFailure(
                    plugin_name,
                    f"import failed: {type(exc).__name__}: {exc}",
                    dist_name,
                    details=traceback.format_exc(),
                )
            )
            continue
        mismatch = _api_mismatch(plugin)
        if mismatch:
            state.failures.append(PluginFailure(plugin_name, mismatch, dist_name))
            continue
        clash = _name_clash(state, plugin_name, plugin)
        if clash:
            state.failures.append(PluginFailure(plugin_name, clash, dist_name))
            continue
        try:
            state.pm.register(plugin, name=plugin_name)
            state.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            state.pm.unregister(plugin)
            state.failures.append(
                PluginFailure(plugin_name, f"invalid hook implementation: {exc}", dist_name)
            )
            continue
        state.provenance[plugin_name] = (dist_name, dist_version)


def _name_clash(state: _State, plugin_name: str, plugin: Any) -> str | None:
    """Why this entry point cannot join (its name or object is taken), or None."""
    if state.pm.has_plugin(plugin_name):
        owner = state.provenance.get(plugin_name, ("(unknown)", ""))[0]
        return (
            f"entry point name '{plugin_name}' is already used by {owner}; "
            "rename the entry point (the module name is a good choice)"
        )
    if state.pm.is_registered(plugin):
        other = state.pm.get_name(plugin)
        return f"its module is already loaded as plugin '{other}'; keep one entry point for it"
    return None


def _state_now() -> _State:
    global _state
    if _state is None:
        _state = _new_state()
    return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with built-ins and allowed entry points registered."""
    return _state_now().pm


def _build_registry(state: _State) -> ComponentRegistry:
    registry = ComponentRegistry()
    registry.plugin_failures = state.failures  # the same list: failures found while building too
    registry.filtered_out = state.filtered_out
    for impl in state.pm.hook.zsk_register_components.get_hookimpls():
        plugin_name = impl.plugin_name
        distribution, version = state.provenance.get(plugin_name, ("(local)", ""))

        def register(
            cls: type[Component],
            override: bool = False,
            *,
            _plugin: str = plugin_name,
            _dist: str = distribution,
            _version: str = version,
        ) -> None:
            try:
                registry.add(
                    cls, plugin=_plugin, distribution=_dist, version=_version, override=override
                )
            except UserError as exc:
                label = f"{getattr(cls, 'kind', '?')} '{getattr(cls, 'name', cls)}'"
                state.failures.append(PluginFailure(_plugin, exc.render(), _dist, label))

        try:
            impl.function(register=register)
        except BaseException as exc:  # even SystemExit: isolate it, keep the rest
            registry.remove_plugin(plugin_name)
            state.failures.append(
                PluginFailure(
                    plugin_name,
                    f"zsk_register_components raised {type(exc).__name__}: {exc}",
                    distribution,
                    details=traceback.format_exc(),
                )
            )
    return registry


def register_commands(cli: Any) -> None:
    """Give ``cli`` every plugin's commands (``zsk_register_commands``), isolated as components
    are: a hook that raises is listed as a failed plugin, the commands it had added are taken
    back, and the others' commands (and ``zsk --help``) keep working."""
    state = _state_now()
    for impl in state.pm.hook.zsk_register_commands.get_hookimpls():
        before = dict(cli.commands)
        try:
            impl.function(cli=cli)
        except BaseException as exc:  # even SystemExit: isolate it, keep the rest
            cli.commands.clear()
            cli.commands.update(before)
            distribution, _ = state.provenance.get(impl.plugin_name, ("(local)", ""))
            state.failures.append(
                PluginFailure(
                    impl.plugin_name,
                    f"zsk_register_commands raised {type(exc).__name__}: {exc}",
                    distribution,
                    details=traceback.format_exc(),
                )
            )


def get_registry() -> ComponentRegistry:
    """The component registry, built from every plugin's ``zsk_register_components`` once."""
    state = _state_now()
    if state.registry is None:
        state.registry = _build_registry(state)
    return state.registry


def failures() -> list[PluginFailure]:
    """Plugins (or components) that failed to load, with the reason."""
    get_registry()
    return list(_state_now().failures)


def register_plugin(
    plugin: Any, name: str, distribution: str = "(local)", version: str = ""
) -> None:
    """Register a plugin object in this process (tests, notebooks) and rebuild the registry."""
    state = _state_now()
    state.pm.register(plugin, name=name)
    state.pm.check_pending()
    state.provenance[name] = (distribution, version)
    state.registry = None


def unregister_plugin(name: str) -> None:
    state = _state_now()
    plugin = state.pm.get_plugin(name)
    if plugin is not None:
        state.pm.unregister(plugin)
    state.provenance.pop(name, None)
    state.failures = [f for f in state.failures if f.plugin != name]
    state.registry = None


def reset() -> None:
    """Forget the plugin manager and registry; the next use loads everything anew."""
    global _state
    _state = None
