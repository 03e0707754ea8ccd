"""``zsk plugin new``: scaffold a plugin package that works, and passes its tests, as written.

The files come from templates shipped as package data under ``zsk/core/scaffold_templates``
(``common/`` for every kind, ``kinds/<kind>/`` for the component, its test and its usage
snippet), filled in with :class:`string.Template`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click
from packaging.version import InvalidVersion, Version

from zsk.core.files import write_file
from zsk.registry import DISTRIBUTION, PLUGIN_API_VERSION, UserError, get_registry
from zsk.registry.manager import zsk_version

#: Kinds a scaffold can be made for -> (base class in zsk.core.interfaces, class-name suffix).
SCAFFOLD_KINDS: dict[str, tuple[str, str]] = {
    "loss": ("Loss", "Loss"),
    "normalizer": ("Normalizer", "Norm"),
    "attention": ("Attention", "Attention"),
    "head": ("Head", "Head"),
    "semantic_encoder": ("SemanticEncoder", "Encoder"),
}

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Scaffold:
    """The names one scaffold is written with."""

    dist: str
    module: str
    component: str
    class_name: str
    kind: str

    @classmethod
    def named(cls, dist: str, kind: str) -> Scaffold:
        """Derive module, component and class names from a distribution name like ``zsk-focal``."""
        if not _DIST_NAME.match(dist):
            raise UserError(
                f"'{dist}' is not a valid package name",
                hint="use letters, digits and '-', e.g. zsk-focal-loss",
            )
        module = re.sub(r"[-_.]+", "_", dist).lower()
        component = module.removeprefix("zsk_") or module
        if not module.isidentifier() or keyword.iskeyword(module) or module[0] == "_":
            raise UserError(
                f"'{dist}' gives the module name '{module}', which Python cannot import",
                hint="start the name with a letter, e.g. zsk-focal-loss",
            )
        class_name = "".join(part.title() for part in component.split("_") if part)
        suffix = SCAFFOLD_KINDS[kind][1]
        if not class_name.endswith(suffix):
            class_name += suffix
        return cls(dist, module, component, class_name, kind)

    @property
    def kind_words(self) -> str:
        return self.kind.replace("_", " ")

    def substitutions(self) -> dict[str, str]:
        return {
            "dist": self.dist,
            "module": self.module,
            "component": self.component,
            "class_name": self.class_name,
            "kind": self.kind,
            "kind_words": self.kind_words,
            "base_class": SCAFFOLD_KINDS[self.kind][0],
            "zsk_requirement": _zsk_requirement(),
            "api_range": plugin_api_range(),
        }

    def files(self) -> dict[str, str]:
        """Relative path -> template path (under ``scaffold_templates``) of every file."""
        return {
            "pyproject.toml": "common/pyproject.toml.tmpl",
            "README.md": "common/README.md.tmpl",
            ".gitignore": "common/gitignore.tmpl",
            f"src/{self.module}/__init__.py": "common/__init__.py.tmpl",
            f"src/{self.module}/{self.kind}.py": f"kinds/{self.kind}/component.py.tmpl",
            f"tests/test_{self.component}.py": f"kinds/{self.kind}/test.py.tmpl",
            "tests/test_registration.py": "common/test_registration.py.tmpl",
        }


def plugin_api_range() -> str:
    """The range a new plugin declares: this plugin API version up to the next major one."""
    major = Version(PLUGIN_API_VERSION).major
    return f">={PLUGIN_API_VERSION},<{major + 1}"


def _zsk_requirement() -> str:
    """``zsk-toolkit>=X.Y`` for the running zsk, or no version when run from a bare checkout."""
    try:
        version = Version(zsk_version())
    except InvalidVersion:
        return DISTRIBUTION
    if version.local is not None:
        return DISTRIBUTION
    return f"{DISTRIBUTION}>={version.major}.{version.minor}"


def _template(relative: str) -> Template:
    source = resources.files("zsk.core").joinpath("scaffold_templates", *relative.split("/"))
    return Template(source.read_text(encoding="utf-8"))


def render(scaffold: Scaffold) -> dict[str, str]:
    """Every file of the scaffold: relative path -> text."""
    values = scaffold.substitutions()
    values["usage"] = _template(f"kinds/{scaffold.kind}/usage.md.tmpl").substitute(values)
    return {path: _template(tpl).substitute(values) for path, tpl in scaffold.files().items()}


def _refuse_taken_name(scaffold: Scaffold) -> None:
    registry = get_registry()
    if scaffold.component in registry.names(scaffold.kind):
        entry = registry.get(scaffold.kind, scaffold.component)
        raise UserError(
            f"a {scaffold.kind_words} named '{scaffold.component}' already exists "
            f"(plugin '{entry.plugin}', {entry.distribution})",
            hint="choose another package name; see the taken names with "
            f"`zsk plugins --kind {scaffold.kind}`",
        )


def write_scaffold(name: str, kind: str, folder: Path) -> Scaffold:
    """Write a new plugin package for ``kind`` into ``folder``, which must be new or empty."""
    scaffold = Scaffold.named(name, kind)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(
            f"{folder}: exists and is not an empty folder; a scaffold is written only into a "
            "new or empty one",
            hint="choose another place with --dir, or remove that folder first",
        )
    _refuse_taken_name(scaffold)
    for relative, text in render(scaffold).items():
        write_file(folder / relative, text)
    return scaffold


@click.group()
def plugin() -> None:
    """Write zsk plugins.

    \b
    Example:
      zsk plugin new zsk-focal --kind loss
      cd zsk-focal && pip install -e . && pytest
    """


@plugin.command()
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(sorted(SCAFFOLD_KINDS)),
    default="loss",
    show_default=True,
    help="The kind of the package's one component.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the package (new or empty); default ./NAME.",
)
def new(name: str, kind: str, folder: Path | None) -> None:
    """Scaffold plugin package NAME with one working component of KIND, its test and README.

    NAME is the distribution name; the module and the component's name come from it
    (zsk-focal -> module zsk_focal, component 'focal'). Kinds: loss, normalizer, attention,
    head, semantic_encoder.

    \b
    Example:
      zsk plugin new zsk-focal --kind loss
      cd zsk-focal && pip install -e . && pytest
    """
    folder = folder if folder is not None else Path(name)
    scaffold = write_scaffold(name, kind, folder)
    click.echo(
        f"wrote {scaffold.dist} to {folder}/: {scaffold.kind_words} '{scaffold.component}' "
        f"(class {scaffold.class_name} in src/{scaffold.module}/{scaffold.kind}.py)\n"
        f"next: cd {folder} && pip install -e . && pytest"
    )
