"""`zsk plugins`, `zsk --version` and `--help`, driven through click's test runner."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Literal

import pytest
from click.testing import CliRunner
from pydantic import Field

from zsk.core.cli.main import BUILTIN_COMMANDS, cli
from zsk.core.components.interfaces import KINDS
from zsk.registry import DISTRIBUTION, Component, hookimpl
from zsk.registry import manager as plugin_manager


@pytest.fixture(autouse=True)
def _fresh_plugins():
    plugin_manager.reset()
    yield
    plugin_manager.reset()


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_version_names_the_installed_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"zsk {plugin_manager.zsk_version()}"


@pytest.mark.parametrize("command", sorted(BUILTIN_COMMANDS))
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_json_lists_every_kind_from_the_zsk_distribution():
    rows = json.loads(run("plugins", "--json").output)
    assert {row["kind"] for row in rows} == set(KINDS)
    for row in rows:
        assert {"kind", "name", "plugin", "distribution", "version", "description"} <= set(row)
        assert (
            row["distribution"] == DISTRIBUTION and row["version"] == plugin_manager.zsk_version()
        )
        assert row["description"]


def test_builtins_load_when_no_third_party_plugin_is_allowed():
    rows = json.loads(run("plugins", "--json", env={"ZSK_LOAD_PLUGINS": ""}).output)
    assert {row["kind"] for row in rows} == set(KINDS)


def test_kind_and_filter_narrow_the_listing():
    rows = json.loads(run("plugins", "--json", "--kind", "loss", "--filter", "cos*").output)
    assert rows and all(r["kind"] == "loss" and r["name"].startswith("cos") for r in rows)


def test_table_shows_components_and_failed_plugins():
    @hookimpl
    def zsk_register_components(register):
        raise RuntimeError("cannot find my weights")

    plugin_manager.register_plugin(
        SimpleNamespace(zsk_register_components=zsk_register_components), name="flaky"
    )
    result = run("plugins")
    assert result.exit_code == 0
    assert "lsgan" in result.output
    assert "failed: plugin 'flaky'" in result.output and "cannot find my weights" in result.output
    failed = json.loads(run("plugins", "--json", "--failed").output)
    assert failed == [
        {
            "plugin": "flaky",
            "error": "zsk_register_components raised RuntimeError: cannot find my weights",
            "distribution": "(local)",
        }
    ]


def test_params_lists_types_defaults_and_descriptions(add_components):
    class Scaled(Component):
        """A loss with one parameter."""

        kind = "loss"
        name = "scaled_test"

        class Params(Component.Params):
            scale: float = 2.5

    add_components(Scaled, name="scaled")
    result = run("plugins", "--params", "scaled_test")
    assert result.exit_code == 0
    assert "scale" in result.output and "float" in result.output and "2.5" in result.output


def test_params_show_literal_values_and_tables_keep_bracketed_text(add_components):
    class Choosy(Component):
        """A loss whose description has [bracketed] text, e.g. [bold]."""

        kind = "loss"
        name = "choosy_test"

        class Params(Component.Params):
            mode: Literal["mean", "sum"] = Field("mean", description="reduce by [mean] or [sum]")

    add_components(Choosy, name="choosy")
    params = run("plugins", "--params", "choosy_test")
    assert "Literal['mean', 'sum']" in params.output and "[mean] or [sum]" in params.output
    listing = run("plugins", "--kind", "loss", "--filter", "choosy*", env={"COLUMNS": "300"})
    assert "A loss whose description has [bracketed] text, e.g. [bold]." in listing.output


def test_unknown_params_name_is_a_clear_error_with_exit_code_2():
    result = run("plugins", "--params", "lsgn")
    assert result.exit_code == 2
    assert "no component named 'lsgn'. Did you mean 'lsgan'?" in result.output
    assert "Traceback" not in result.output
    result = run("plugins", "--kind", "normalizer", "--params", "lsgan")
    assert result.exit_code == 2
    assert "'lsgan' is a loss, not a normalizer" in result.output
