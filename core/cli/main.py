"""The ``zsk`` entry point: a click group whose commands load lazily, and the error boundary.

A :class:`~zsk.registry.UserError` anywhere below prints its message and exits 2, with no
traceback unless ``--debug`` is given; any other exception is our bug and exits 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from zsk.registry import UserError

#: command name -> "module:attribute" (relative to zsk.core.cli)
BUILTIN_COMMANDS: dict[str, str] = {
    "plugins": "plugins_cmd:plugins",
    "plugin": "plugin_cmd:plugin",
    "data": "data_cmd:data",
    "init": "init_cmd:init",
    "build": "build_cmd:build",
    "schema": "schema_cmd:schema",
    "train": "train_cmd:train",
    "eval": "eval_cmd:eval_command",
    "generate": "generate_cmd:generate",
    "translate": "translate_cmd:translate",
    "report": "report_cmd:report",
}


class ZskGroup(click.Group):
    """Loads each built-in command's module on first use and adds plugins' commands."""

    _commands_added_by: object = None

    def add_plugin_commands(self) -> None:
        """Ask plugins for their commands once per plugin manager (a reset loads them anew);
        a hook that raises is a failed plugin (``zsk plugins`` lists it)."""
        from zsk.registry.manager import get_plugin_manager, register_commands

        manager = get_plugin_manager()
        if self._commands_added_by is not manager:
            self._commands_added_by = manager
            register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in BUILTIN_COMMANDS:
            module_name, attribute = BUILTIN_COMMANDS[name].split(":")
            module = importlib.import_module(f"zsk.core.cli.{module_name}")
            return getattr(module, attribute)
        self.add_plugin_commands()
        return self.commands.get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {exc.render()}", fg="red", err=True)
            sys.exit(exc.exit_code)


def _version() -> str:
    from zsk.registry.manager import zsk_version

    return zsk_version()


@click.group(cls=ZskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    version=None, package_name="zsk-toolkit", prog_name="zsk", message="%(prog)s %(version)s"
)
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """zsk: attribute-conditioned GANs and zero-shot recognition, built from plugins.

    \b
    Example:
      zsk data synth data/shapes
      zsk build examples/shapes.yaml
      zsk train && zsk eval
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    cli(prog_name="zsk")
