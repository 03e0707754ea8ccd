"""``zsk plugin new``: each supported kind scaffolds a package whose own tests pass as written.

The scaffold's test suite runs in-process (pytester), from its own folder and pyproject, as
``pytest`` would run it there; only the test of the installed entry point skips, since nothing
is pip-installed here (``examples/zsk-plugin-example/ci.sh`` covers the install path). The
plugin module is then registered in this process to check it reaches ``zsk plugins``.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from click.testing import CliRunner

import zsk.api  # noqa: F401  (imported once, for the scaffolds' runs)
from zsk.core.cli.main import cli
from zsk.core.cli.plugin_cmd import SCAFFOLD_KINDS, Scaffold, write_scaffold
from zsk.core.components.interfaces import Loss
from zsk.registry import hookimpl, manager

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "core" / "scaffold-templates"


@pytest.fixture
def fresh_registry():
    manager.reset()
    yield
    manager.reset()


def _new(*args: str):
    return CliRunner().invoke(cli, ["plugin", "new", *args])


def _import_plugin(folder: Path, module: str):
    sys.path.insert(0, str(folder / "src"))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(folder / "src"))


@pytest.mark.parametrize("kind", sorted(SCAFFOLD_KINDS))
def test_scaffold_passes_its_own_tests_and_registers(
    kind, tmp_path, pytester, fresh_registry, monkeypatch
):
    folder = tmp_path / "pkg"
    dist = f"zsk-demo-{kind.replace('_', '-')}"
    result = _new(dist, "--add", kind, "--dir", str(folder))
    assert result.exit_code == 0, result.output
    scaffold = Scaffold.named(dist, [kind])
    [component] = scaffold.components
    assert f"{kind.replace('_', ' ')} '{component.name}'" in result.output
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(
        scaffold.files()
    )

    manager.get_registry()  # import zsk's plugins out here: pytester forgets modules it imported
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the scaffold needs no plugins
    run = pytester.runpytest_inprocess(str(folder), "-p", "no:cacheprovider")
    outcomes = run.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, run.stdout.str()
    assert outcomes["passed"] >= 3
    assert outcomes["skipped"] == 1  # the installed entry point: not installed here

    module = _import_plugin(folder, scaffold.module)
    try:
        manager.register_plugin(module, name=scaffold.module, distribution=dist, version="0.1.0")
        listing = CliRunner().invoke(cli, ["plugins", "--json", "--kind", component.kind])
        rows = [row for row in json.loads(listing.output) if row["name"] == component.name]
        assert [(r["plugin"], r["distribution"], r["version"]) for r in rows] == [
            (scaffold.module, dist, "0.1.0")
        ]
        words = component.name.replace("_", " ")
        assert rows[0]["description"].lower() in (f"{words}.", f"{words} {kind_words(kind)}.")
    finally:
        manager.unregister_plugin(scaffold.module)
        for name in [m for m in sys.modules if m.split(".")[0] == scaffold.module]:
            del sys.modules[name]


def test_several_components_of_chosen_names_in_one_package_pass_their_tests(
    tmp_path, pytester, fresh_registry, monkeypatch
):
    folder = tmp_path / "pkg"
    adds = ["conditional_head:my_projection", "metric:colour_gap", "dataset:zoo_table", "loss"]
    result = _new(
        "zsk-mixed", *[part for add in adds for part in ("--add", add)], "--dir", str(folder)
    )
    assert result.exit_code == 0, result.output
    for made in ("conditional head 'my_projection'", "metric 'colour_gap'", "loss 'mixed'"):
        assert made in result.output
    manager.get_registry()
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    run = pytester.runpytest_inprocess(str(folder), "-p", "no:cacheprovider")
    outcomes = run.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, run.stdout.str()
    module = _import_plugin(folder, "zsk_mixed")
    try:
        manager.register_plugin(module, name="zsk_mixed", distribution="zsk-mixed")
        registry = manager.get_registry()
        assert registry.get("head", "my_projection").cls.condition == {"attributes"}
        assert registry.get("metric", "colour_gap") and registry.get("dataset", "zoo_table")
        assert registry.get("loss", "mixed").distribution == "zsk-mixed"
    finally:
        manager.unregister_plugin("zsk_mixed")
        for name in [m for m in sys.modules if m.split(".")[0] == "zsk_mixed"]:
            del sys.modules[name]


def kind_words(kind: str) -> str:
    return kind.replace("_", " ")


def test_every_kind_at_once_is_lint_clean_typed_and_described_by_its_name(tmp_path):
    folder = tmp_path / "pkg"
    adds = [f"{kind}:critter_{kind}_thing" for kind in sorted(SCAFFOLD_KINDS)]
    adds += ["loss:critter_wgan_gp", "metric:attr_agreement"]
    result = _new("zsk-critterlab", *[p for add in adds for p in ("--add", add)], "--dir", folder)
    assert result.exit_code == 0, result.output
    assert "pip install -e '.[test]'" in result.output
    for args in (["check", "."], ["format", "--check", "."]):
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=folder, capture_output=True, text=True
        )
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    scaffold = Scaffold.named("zsk-critterlab", adds)
    for component in scaffold.components:
        source = (folder / "src" / "zsk_critterlab" / f"{component.name}.py").read_text()
        words = component.name.replace("_", " ")
        title = (
            words
            if words.endswith(kind_words(component.template).split()[-1])
            else (f"{words} {kind_words(component.template)}")
        )
        assert f'    """{title[0].upper()}{title[1:]}.\n' in source
    described = {c.name: c.title for c in scaffold.components}
    assert described["critter_wgan_gp"] == "Critter wgan gp loss"
    assert described["attr_agreement"] == "Attr agreement metric"


def test_the_data_format_marker_is_the_components_own(tmp_path):
    write_scaffold("zsk-zoo", ["dataset:zoo_table"], tmp_path / "pkg")
    source = (tmp_path / "pkg" / "src" / "zsk_zoo" / "zoo_table.py").read_text()
    assert 'marker_files = ("zoo_table.csv",)' in source
    readme = (tmp_path / "pkg" / "README.md").read_text()
    assert 'pip install -e ".[test]"' in readme
    pyproject = (tmp_path / "pkg" / "pyproject.toml").read_text()
    assert 'test = ["pytest>=7.4", "ruff>=0.4"]' in pyproject


def test_a_class_name_that_would_shadow_a_base_class_is_refused(tmp_path):
    result = _new("zsk-trunk", "--add", "trunk", "--dir", str(tmp_path / "p"))
    assert result.exit_code == 2
    assert "its class would be named 'Trunk', which is zsk's base class" in result.output


def test_two_components_of_one_name_are_refused(tmp_path):
    result = _new("zsk-twice", "--add", "loss", "--add", "head", "--dir", str(tmp_path / "p"))
    assert result.exit_code == 2 and "two components would be named 'twice'" in result.output
    result = _new("zsk-bad", "--add", "lossy", "--dir", str(tmp_path / "q"))
    assert result.exit_code == 2 and "no template for 'lossy'" in result.output


@pytest.mark.parametrize("kind", sorted(SCAFFOLD_KINDS))
def test_readme_shows_how_to_use_the_component(kind, tmp_path):
    scaffold = write_scaffold("zsk-snippet", [kind], tmp_path / "pkg")
    readme = (tmp_path / "pkg" / "README.md").read_text()
    [component] = scaffold.components
    if kind == "metric":
        assert f"zsk eval RUN --metric {component.name}" in readme
        return
    [snippet] = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)

    def types(node):
        if isinstance(node, dict):
            yield from ([node["type"]] if "type" in node else [])
            for value in node.values():
                yield from types(value)
        elif isinstance(node, list):
            for value in node:
                yield from types(value)

    assert component.name in set(types(yaml.safe_load(snippet)))
    assert "$" not in readme.replace("```bash", "")  # every placeholder was filled


def test_names_derive_from_the_distribution_name_unless_chosen():
    scaffold = Scaffold.named("zsk-Focal.loss", ["loss"])
    [component] = scaffold.components
    assert (scaffold.module, component.name, component.class_name) == (
        "zsk_focal_loss",
        "focal_loss",
        "FocalLoss",
    )
    assert Scaffold.named("zsk-pixel", ["normalizer"]).components[0].class_name == "PixelNorm"
    chosen = Scaffold.named("zsk-pixel", ["metric:colour_gap"]).components[0]
    assert (chosen.name, chosen.class_name, chosen.kind) == (
        "colour_gap",
        "ColourGapMetric",
        "metric",
    )


def test_a_non_empty_folder_is_refused_and_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = _new("zsk-demo", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path}: exists and is not an empty folder" in result.output
    assert "choose another place with --dir" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_existing_empty_folder_is_used(tmp_path):
    assert _new("zsk-demo", "--dir", str(tmp_path)).exit_code == 0
    assert (tmp_path / "src" / "zsk_demo" / "demo.py").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("my plugin", "'my plugin' is not a valid package name"),
        ("9lives", "gives the module name '9lives', which Python cannot import"),
    ],
)
def test_unusable_names_are_refused(name, message, tmp_path):
    result = _new(name, "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "pkg").exists()


class Taken(Loss):
    """A loss already registered under the name a scaffold would take."""

    name = "taken"


class TakenPlugin:
    @hookimpl
    def zsk_register_components(self, register):
        register(Taken)


def test_a_name_already_registered_for_the_kind_is_refused(tmp_path, fresh_registry):
    manager.register_plugin(TakenPlugin(), name="taken-plugin", distribution="zsk-taken")
    result = _new("zsk-taken", "--add", "loss", "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 2
    assert "a loss named 'taken' already exists (plugin 'taken-plugin', zsk-taken)" in result.output
    assert not (tmp_path / "pkg").exists()
    assert _new("zsk-taken", "--add", "head", "--dir", str(tmp_path / "head")).exit_code == 0
    assert _new("zsk-taken", "--add", "loss:kept", "--dir", str(tmp_path / "kept")).exit_code == 0


def test_every_template_is_used_and_shipped_as_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    used = {"kinds/" + kind + "/usage.md.tmpl" for kind in SCAFFOLD_KINDS}
    used |= set(Scaffold.named("zsk-x", [f"{k}:c_{k}" for k in SCAFFOLD_KINDS]).files().values())
    on_disk = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.tmpl")}
    assert on_disk == used
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["zsk.core"]
    for relative in on_disk:
        path = PurePosixPath("scaffold-templates", relative)
        assert any(path.match(glob) for glob in globs), f"{path} is not package data"
