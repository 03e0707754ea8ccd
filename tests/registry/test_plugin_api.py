"""Plugin API compatibility, end to end through a real (tiny, fake) installed distribution.

Each test writes a module and a ``*.dist-info`` folder (METADATA + entry_points.txt) into a
temporary folder on ``sys.path``: exactly what ``pip install`` leaves behind, so
``importlib.metadata`` finds the entry point in the group ``zsk`` as it would for a real package.
``ZSK_LOAD_PLUGINS`` is narrowed to the fake distribution so that other installed plugins cannot
interfere.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from zsk.core.cli.main import cli
from zsk.core.spec.loading import load_spec
from zsk.core.spec.refs import LossRef
from zsk.registry import (
    PLUGIN_API_VERSION,
    RegistryError,
    UserError,
    get_registry,
    hookspecs,
    manager,
)

REPO = Path(__file__).resolve().parents[2]
DIST = "fake-zsk-plugin"
VERSION = "1.2.3"
_module_numbers = itertools.count()

PLUGIN_SOURCE = '''
from torch import nn

from zsk.core.components.interfaces import Loss
from zsk.registry import hookimpl

{api_line}


class FakeLoss(Loss):
    """A loss from a fake installed distribution."""

    name = "fake_loss"


class Undocumented(Loss):
    name = "undocumented"


@hookimpl
def zsk_register_components(register):
    register(FakeLoss)
    {extra_registration}
'''


@pytest.fixture
def install_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a fake distribution into a folder on sys.path; undo it and reload plugins after."""
    module_names: list[str] = []

    def install(api: str | None, *, extra_registration: str = "", body: str | None = None) -> str:
        module_name = f"fake_zsk_plugin_{next(_module_numbers)}"
        module_names.append(module_name)
        api_line = f"zsk_plugin_api = {api!r}" if api is not None else ""
        source = body or PLUGIN_SOURCE.format(
            api_line=api_line, extra_registration=extra_registration
        )
        (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(source))
        dist_info = tmp_path / f"fake_zsk_plugin-{VERSION}.dist-info"
        dist_info.mkdir(exist_ok=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n"
        )
        (dist_info / "entry_points.txt").write_text(f"[zsk]\nfake = {module_name}\n")
        manager.reset()
        return module_name

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(manager.LOAD_PLUGINS_ENV, DIST)
    yield install
    for name in module_names:
        sys.modules.pop(name, None)
    monkeypatch.undo()
    manager.reset()


def _failure_rows() -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["plugins", "--json", "--failed"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_compatible_plugin_loads_with_its_distribution_and_version(install_fake):
    install_fake(">=3.0,<4")
    entry = get_registry().get("loss", "fake_loss")
    assert (entry.plugin, entry.distribution, entry.version) == ("fake", DIST, VERSION)
    result = CliRunner().invoke(cli, ["plugins", "--json", "--kind", "loss"])
    rows = [row for row in json.loads(result.output) if row["name"] == "fake_loss"]
    assert rows == [entry.as_dict()]
    assert _failure_rows() == []


def test_a_plugin_without_a_declared_range_is_loaded(install_fake):
    install_fake(None)
    assert get_registry().get("loss", "fake_loss").distribution == DIST


def test_an_incompatible_range_is_reported_with_both_versions(install_fake):
    install_fake(">=4,<5")
    assert "fake_loss" not in get_registry().names("loss")
    [row] = _failure_rows()
    assert (row["plugin"], row["distribution"]) == ("fake", DIST)
    assert row["error"] == (
        f"supports zsk plugin API >=4,<5 but this zsk provides plugin API {PLUGIN_API_VERSION}"
    )
    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0
    flat = " ".join(table.output.split())
    assert f"failed: plugin 'fake' ({DIST}): supports zsk plugin API >=4,<5" in flat
    assert f"provides plugin API {PLUGIN_API_VERSION}" in flat


def test_a_future_zsk_refuses_a_plugin_for_the_current_api(install_fake, monkeypatch):
    monkeypatch.setattr(hookspecs, "PLUGIN_API_VERSION", "4.0")
    install_fake(">=3.0,<4")
    [failure] = manager.failures()
    assert failure.error.endswith("but this zsk provides plugin API 4.0")


def test_a_plugin_for_api_2_is_told_what_api_3_changed(install_fake):
    install_fake(">=2.0,<3")
    assert "fake_loss" not in get_registry().names("loss")
    [failure] = manager.failures()
    assert failure.error == (
        "supports zsk plugin API >=2.0,<3 but this zsk provides plugin API 3.2; plugin API 3 "
        "moved every name a plugin imports to zsk.api and builds components with keyword-only "
        "inputs, so a plugin made for 2.x is not loaded: install a release of it made for plugin "
        "API 3, or a zsk that provides plugin API >=2.0,<3 (docs/plugin-guide.md, 'Migrating "
        "from plugin API 2', tells its author what to change)"
    )


def test_an_unreadable_range_says_what_a_range_looks_like(install_fake):
    install_fake("version one")
    [failure] = manager.failures()
    assert failure.error == (
        "declares zsk_plugin_api = 'version one', which is not a version range like '>=1,<2'"
    )


def test_a_spec_naming_a_component_of_a_failed_plugin_gives_the_reason(install_fake):
    install_fake(">=4,<5")
    reason = (
        f"plugin 'fake' ({DIST}) failed to load: supports zsk plugin API >=4,<5 "
        f"but this zsk provides plugin API {PLUGIN_API_VERSION}"
    )
    with pytest.raises(RegistryError) as error:
        get_registry().get("loss", "fake_loss")
    assert error.value.message.startswith("unknown loss 'fake_loss'.")
    assert reason in error.value.message
    with pytest.raises(ValidationError) as invalid:
        LossRef.model_validate(
            {"type": "fake_loss", "params": {}}, context={"registry": get_registry()}
        )
    assert reason in str(invalid.value)


def test_an_import_error_is_reported_and_named_by_lookups(install_fake):
    install_fake(None, body="raise ImportError('needs torch 9')\n")
    [failure] = manager.failures()
    assert failure.error == "import failed: ImportError: needs torch 9"
    with pytest.raises(RegistryError, match=r"\(fake-zsk-plugin\) failed to load: import failed"):
        get_registry().get("loss", "fake_loss")


def test_a_failed_registration_is_named_only_for_that_component(install_fake):
    install_fake(">=3.0,<4", extra_registration="register(Undocumented)")
    assert get_registry().get("loss", "fake_loss").distribution == DIST
    [failure] = manager.failures()
    assert failure.component == "loss 'undocumented'"
    with pytest.raises(RegistryError) as error:
        get_registry().get("loss", "undocumented")
    assert f"plugin 'fake' ({DIST}) failed to register loss 'undocumented': " in str(error.value)
    assert "has no docstring" in str(error.value)
    with pytest.raises(RegistryError) as unrelated:
        get_registry().get("loss", "focal")
    assert "plugin 'fake'" not in str(unrelated.value)


def test_load_plugins_env_set_but_empty_loads_no_third_party_plugin(install_fake, monkeypatch):
    install_fake(">=3.0,<4")
    monkeypatch.setenv(manager.LOAD_PLUGINS_ENV, "")
    manager.reset()
    assert "fake_loss" not in get_registry().names("loss")
    assert manager.failures() == []


def test_a_spec_file_naming_it_fails_at_its_line_with_the_reason(install_fake, tmp_path):
    install_fake(">=4,<5")
    shapes = (REPO / "examples" / "shapes.yaml").read_text()
    assert "{type: lsgan}" in shapes
    spec = tmp_path / "spec.yaml"
    spec.write_text(shapes.replace("{type: lsgan}", "{type: fake_loss}"))
    with pytest.raises(UserError) as error:
        load_spec(spec)
    line = 1 + shapes[: shapes.index("{type: lsgan}")].count("\n")
    text = error.value.render()
    assert f"spec.yaml:{line}:" in text
    assert "unknown loss 'fake_loss'." in text
    assert f"plugin 'fake' ({DIST}) failed to load: supports zsk plugin API >=4,<5" in text
