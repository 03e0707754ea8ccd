"""``zsk plugins``: every registered component, where it came from, and its parameters."""

from __future__ import annotations

import difflib
import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zsk.core.cli.main import ZskGroup
from zsk.core.components.interfaces import KINDS
from zsk.registry import RegistryError, get_registry
from zsk.registry.manager import failures


def _print_params(name: str, kind: str | None) -> None:
    registry = get_registry()
    if kind is not None:
        matches = [registry.get(kind, name)]  # raises with did-you-mean when missing
    else:
        matches = [e for e in registry.list() if e.name == name]
    if not matches:
        close = difflib.get_close_matches(name, sorted({e.name for e in registry.list()}), n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        raise RegistryError(
            f"no component named '{name}'.{guess}",
            hint="list the names with `zsk plugins` (add --kind KIND to narrow)",
        )
    console = Console()
    for entry in matches:
        table = Table(title=escape(f"{entry.kind} '{entry.name}' — {entry.description}"))
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column)
        for row in entry.params_rows():
            cells = (row["name"], row["type"], repr(row["default"]), row["description"])
            table.add_row(*(escape(cell) for cell in cells))
        console.print(table)


def _run_command_hooks() -> None:
    """Run every plugin's ``zsk_register_commands`` hook (a built-in command like this one is
    found without them), so that a plugin whose command hook raises is listed as failed."""
    root = click.get_current_context().find_root().command
    if isinstance(root, ZskGroup):
        root.add_plugin_commands()


@click.command()
@click.option("--kind", type=click.Choice(KINDS), help="Only components of this kind.")
@click.option("--filter", "pattern", default="*", metavar="GLOB", help="Only names matching GLOB.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--failed", is_flag=True, help="With --json: list the plugins that failed to load.")
@click.option("--params", "params_of", metavar="NAME", help="Show one component's parameters.")
def plugins(
    kind: str | None, pattern: str, as_json: bool, failed: bool, params_of: str | None
) -> None:
    """List every component: kind, name, plugin, distribution, version, description.

    \b
    Examples:
      zsk plugins
      zsk plugins --kind loss --filter 'l*'
      zsk plugins --params encoder_decoder
      zsk plugins --json --failed
    """
    if params_of:
        _print_params(params_of, kind)
        return
    _run_command_hooks()
    registry = get_registry()
    entries = registry.list(kind, pattern)
    broken = failures()
    if as_json:
        rows = [f.as_dict() for f in broken] if failed else [e.as_dict() for e in entries]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(entries)} components")
    for column in ("kind", "name", "plugin", "distribution", "version", "description"):
        table.add_column(column, overflow="fold")
    for e in entries:
        kind_label = f"{e.kind} ({e.role})" if e.role else e.kind
        cells = (kind_label, e.name, e.plugin, e.distribution, e.version, e.description)
        table.add_row(*(escape(cell) for cell in cells))
    console = Console()
    console.print(table)
    for failure in broken:
        what = f" {failure.component}" if failure.component else ""
        console.print(
            "[red]failed:[/red] "
            + escape(f"plugin '{failure.plugin}'{what} ({failure.distribution}): {failure.error}"),
            highlight=False,
        )
