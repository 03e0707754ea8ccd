"""Every hook is documented in CONTRIBUTING.md and exercised by a test named after it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.registry import hookimpl, hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = [
    (name, function)
    for name, function in vars(hookspecs).items()
    if callable(function) and hasattr(function, "zsk_spec")
]


def test_there_are_hooks():
    assert {name for name, _ in HOOKS} == {"zsk_register_components", "zsk_register_commands"}


@pytest.mark.parametrize(("name", "function"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_is_documented_with_its_parameters(name, function):
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    heading = re.search(rf"^###+ `{name}\((.*?)\)`", guide, flags=re.MULTILINE)
    assert heading, f"CONTRIBUTING.md has no heading for hook {name}"
    section = guide[heading.start() :].split("\n### ", 1)[0]
    for parameter in inspect.signature(function).parameters:
        assert parameter in heading.group(1), f"{name}: parameter {parameter} not in heading"
        assert f"`{parameter}`" in section, f"{name}: parameter {parameter} not described"
    assert "Called" in section, f"{name}: the section must say when the hook is called"


@pytest.mark.parametrize(("name", "function"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_has_a_test(name, function):
    test_names = {
        node.name
        for path in (ROOT / "tests").rglob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    assert any(t.startswith(f"test_hook_{name}") for t in test_names), (
        f"no test named test_hook_{name}*"
    )


def test_hook_zsk_register_commands_adds_a_working_command(fresh_manager):
    @hookimpl
    def zsk_register_commands(cli):
        @cli.command(name="hello-test")
        @click.argument("who")
        def hello(who):
            """Say hello (from a test plugin)."""
            click.echo(f"hello {who}")

    fresh_manager.register_plugin(
        SimpleNamespace(zsk_register_commands=zsk_register_commands), name="cmd-plugin"
    )
    try:
        runner = CliRunner()
        assert "hello-test" in runner.invoke(cli, ["--help"]).output
        result = runner.invoke(cli, ["hello-test", "zsk"])
        assert result.exit_code == 0 and result.output == "hello zsk\n"
    finally:
        fresh_manager.unregister_plugin("cmd-plugin")
        cli.commands.pop("hello-test", None)
