"""A plugin is contained whatever it raises: SystemExit, KeyboardInterrupt or an exception, at
import or in either hook, makes it a failed plugin, named by ``zsk plugins``, and every other
command keeps working."""

from __future__ import annotations

import json
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.registry import hookimpl


def _failed_rows() -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["plugins", "--json", "--failed"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _failed_hook(installed, entry_point, name: str, hook, raised: BaseException) -> None:
    """A plugin ``name`` (distribution ``zsk-NAME``) whose one ``hook`` raised ``raised``
    is the one failed plugin, named with its distribution and the hook."""
    plugin = SimpleNamespace(**{hook.__name__: hook})
    installed(entry_point(name, plugin, dist_name=f"zsk-{name}"))
    [row] = _failed_rows()
    assert row["plugin"] == name and row["distribution"] == f"zsk-{name}"
    assert row["error"].startswith(f"{hook.__name__} raised {type(raised).__name__}")


def _losses_still_listed() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json", "--kind", "loss"])
    assert result.exit_code == 0, result.output
    assert "lsgan" in {row["name"] for row in json.loads(result.output)}


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (SystemExit(0), "import failed: SystemExit: 0"),
        (KeyboardInterrupt(), "import failed: KeyboardInterrupt: "),
        (RuntimeError("no GPU"), "import failed: RuntimeError: no GPU"),
    ],
)
def test_a_plugin_raising_at_import_is_a_failed_plugin(installed, entry_point, raised, reason):
    installed(entry_point("exiting", raised, dist_name="zsk-exiting"))
    [row] = _failed_rows()
    assert row == {"plugin": "exiting", "error": reason, "distribution": "zsk-exiting"}
    _losses_still_listed()


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
def test_a_register_hook_raising_a_base_exception_is_a_failed_plugin(
    installed, entry_point, raised
):
    @hookimpl
    def zsk_register_components(register):
        raise raised

    _failed_hook(installed, entry_point, "interrupting", zsk_register_components, raised)
    _losses_still_listed()


@pytest.mark.parametrize("raised", [RuntimeError("bad command"), SystemExit(0)])
def test_a_raising_command_hook_is_listed_as_failed(installed, entry_point, raised):
    @hookimpl
    def zsk_register_commands(cli):
        @cli.command()
        def half_added():
            """Added before the hook raised: taken back."""
            click.echo("half")

        raise raised

    _failed_hook(installed, entry_point, "commands", zsk_register_commands, raised)
    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0
    assert "failed: plugin 'commands' (zsk-commands): zsk_register_commands raised" in " ".join(
        table.output.split()
    )
    taken_back = CliRunner().invoke(cli, ["half-added"])
    assert taken_back.exit_code == 2 and "No such command 'half-added'" in taken_back.output
    _losses_still_listed()
