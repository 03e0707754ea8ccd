"""``zsk plugin new``: scaffold a plugin package that works, and passes its tests, as written.

A package holds one or more components, each of a kind and with a name the author chooses
(``--add head:projection``). The files come from templates shipped as package data under
``zsk/core/scaffold-templates`` (``common/`` for the package, ``kinds/<template>/`` for each
component, its test and its usage snippet), filled in with :class:`string.Template`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click
from packaging.version import InvalidVersion, Version

from zsk.core.cli.path_types import FOLDER
from zsk.core.storage.files import write_file
from zsk.registry import DISTRIBUTION, PLUGIN_API_VERSION, UserError, get_registry
from zsk.registry.manager import zsk_version

#: Templates a component can be scaffolded from -> (its kind, class-name suffix).
SCAFFOLD_KINDS: dict[str, tuple[str, str]] = {
    "loss": ("loss", "Loss"),
    "normalizer": ("normalizer", "Norm"),
    "attention": ("attention", "Attention"),
    "head": ("head", "Head"),
    "conditional_head": ("head", "Head"),
    "semantic_encoder": ("semantic_encoder", "Encoder"),
    "generator": ("generator", "Generator"),
    "trunk": ("trunk", "Trunk"),
    "dataset": ("dataset", "Data"),
    "metric": ("metric", "Metric"),
}

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: File names a component may not take (the package's own modules and tests).
_RESERVED = {"registration"}
#: Class names a component may not take: the names its module imports from zsk.api.
_BASE_NAMES = {"Trunk", "Head", "Loss", "Generator", "Attention", "Metric", "Dataset"}


@dataclass(frozen=True)
class ComponentScaffold:
    """One component of a scaffold: the template it comes from, its name and class."""

    template: str
    name: str
    class_name: str

    @property
    def kind(self) -> str:
        return SCAFFOLD_KINDS[self.template][0]

    @property
    def kind_words(self) -> str:
        return self.template.replace("_", " ")

    @property
    def title(self) -> str:
        """The description ``zsk plugins`` shows until the author writes one: the name and the
        kind, and nothing the name might contradict (``critter_wgan_gp`` -> "Critter wgan gp
        loss")."""
        words = self.name.replace("_", " ")
        kind = self.kind_words
        named = words if words.endswith(kind.split()[-1]) else f"{words} {kind}"
        return named[0].upper() + named[1:]

    @classmethod
    def parse(cls, text: str, default_name: str) -> ComponentScaffold:
        """``KIND`` or ``KIND:NAME`` (NAME defaults to the name the distribution gives)."""
        template, _, name = text.partition(":")
        if template not in SCAFFOLD_KINDS:
            raise UserError(
                f"--add {text}: no template for '{template}'",
                hint=f"kinds: {', '.join(sorted(SCAFFOLD_KINDS))}",
            )
        name = name or default_name
        if not _COMPONENT_NAME.match(name) or keyword.iskeyword(name) or name in _RESERVED:
            raise UserError(
                f"--add {text}: '{name}' cannot name a component",
                hint="use lower-case letters, digits and '_', starting with a letter",
            )
        class_name = "".join(part.title() for part in name.split("_") if part)
        suffix = SCAFFOLD_KINDS[template][1]
        class_name = class_name if class_name.endswith(suffix) else class_name + suffix
        if class_name in _BASE_NAMES:
            raise UserError(
                f"--add {text}: its class would be named '{class_name}', which is zsk's base "
                "class of that name",
                hint="choose a more specific name, e.g. --add trunk:wide_trunk",
            )
        return cls(template, name, class_name)


@dataclass(frozen=True)
class Scaffold:
    """The names one scaffold is written with."""

    dist: str
    module: str
    components: tuple[ComponentScaffold, ...]

    @classmethod
    def named(cls, dist: str, adds: Sequence[str] = ("loss",)) -> Scaffold:
        """The module from a distribution name like ``zsk-focal``, and the components ``adds``
        names as ``KIND[:NAME]`` (unnamed ones take the distribution's name less ``zsk-``)."""
        if not _DIST_NAME.match(dist):
            raise UserError(
                f"'{dist}' is not a valid package name",
                hint="use letters, digits and '-', e.g. zsk-focal-loss",
            )
        module = re.sub(r"[-_.]+", "_", dist).lower()
        if not module.isidentifier() or keyword.iskeyword(module) or module[0] == "_":
            raise UserError(
                f"'{dist}' gives the module name '{module}', which Python cannot import",
                hint="start the name with a letter, e.g. zsk-focal-loss",
            )
        default_name = module.removeprefix("zsk_") or module
        components = tuple(
            ComponentScaffold.parse(text, default_name) for text in adds or ("loss",)
        )
        names = [c.name for c in components]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise UserError(
                f"two components would be named '{repeated[0]}'",
                hint="name each one: --add KIND:NAME",
            )
        return cls(dist, module, components)

    def files(self) -> dict[str, str]:
        """Relative path -> template path (under ``scaffold-templates``) of every file."""
        files = {
            "pyproject.toml": "common/pyproject.toml.tmpl",
            "README.md": "common/README.md.tmpl",
            ".gitignore": "common/gitignore.tmpl",
            f"src/{self.module}/__init__.py": "common/__init__.py.tmpl",
            "tests/test_registration.py": "common/test_registration.py.tmpl",
        }
        for c in self.components:
            files[f"src/{self.module}/{c.name}.py"] = f"kinds/{c.template}/component.py.tmpl"
            files[f"tests/test_{c.name}.py"] = f"kinds/{c.template}/test.py.tmpl"
        return files

    def template_of(self, relative: str) -> dict[str, str]:
        """The substitutions for one file: the package's, plus its component's."""
        values = self.substitutions()
        for c in self.components:
            if relative in (f"src/{self.module}/{c.name}.py", f"tests/test_{c.name}.py"):
                values |= _component_values(c)
        return values

    def substitutions(self) -> dict[str, str]:
        listed = ", ".join(f"the {c.kind_words} '{c.name}'" for c in self.components)
        return {
            "dist": self.dist,
            "module": self.module,
            "description": f"A zsk plugin: {listed}",
            "component_list": "\n".join(
                f"- the {c.kind_words} `{c.name}` (class `{c.class_name}` in "
                f"`src/{self.module}/{c.name}.py`)"
                for c in self.components
            ),
            "imports": "\n".join(
                f"from {self.module}.{c.name} import {c.class_name}"
                for c in sorted(self.components, key=lambda c: c.name)
            ),
            "all_list": _python_list([*(c.class_name for c in self.components), "zsk_plugin_api"]),
            "registrations": "\n".join(f"    register({c.class_name})" for c in self.components),
            "rows": "\n".join(
                f'    ("{c.kind}", "{c.name}", {c.class_name}),' for c in self.components
            ),
            "kinds": " ".join(sorted({c.kind for c in self.components})),
            "zsk_requirement": _zsk_requirement(),
            "api_range": plugin_api_range(),
        }


def _python_list(names: Sequence[str]) -> str:
    """``["a", "b"]`` as ruff formats it: on one line when ``__all__ = `` and it fit in 100
    characters, else one name a line."""
    one_line = "[" + ", ".join(f'"{n}"' for n in names) + "]"
    if len("__all__ = ") + len(one_line) <= 100:
        return one_line
    return "[\n" + "".join(f'    "{n}",\n' for n in names) + "]"


def _component_values(c: ComponentScaffold) -> dict[str, str]:
    return {"component": c.name, "class_name": c.class_name, "kind": c.kind, "title": c.title}


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
    source = resources.files("zsk.core").joinpath("scaffold-templates", *relative.split("/"))
    return Template(source.read_text(encoding="utf-8"))


def render(scaffold: Scaffold) -> dict[str, str]:
    """Every file of the scaffold: relative path -> text."""
    usage = "\n".join(
        f"### The {c.kind_words} `{c.name}`\n\n"
        + _template(f"kinds/{c.template}/usage.md.tmpl").substitute(
            scaffold.substitutions() | _component_values(c)
        )
        for c in scaffold.components
    )
    return {
        path: _template(tpl).substitute(scaffold.template_of(path) | {"usage": usage})
        for path, tpl in scaffold.files().items()
    }


def _refuse_taken_names(scaffold: Scaffold) -> None:
    registry = get_registry()
    for c in scaffold.components:
        if c.name in registry.names(c.kind):
            entry = registry.get(c.kind, c.name)
            raise UserError(
                f"a {c.kind.replace('_', ' ')} named '{c.name}' already exists "
                f"(plugin '{entry.plugin}', {entry.distribution})",
                hint=f"choose another name (--add {c.template}:NAME); see the taken names with "
                f"`zsk plugins --kind {c.kind}`",
            )


def write_scaffold(name: str, adds: Sequence[str], folder: Path) -> Scaffold:
    """Write a new plugin package with the components ``adds`` names into ``folder``, which
    must be new or empty."""
    scaffold = Scaffold.named(name, adds)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(
            f"{folder}: exists and is not an empty folder; a scaffold is written only into a "
            "new or empty one",
            hint="choose another place with --dir, or remove that folder first",
        )
    _refuse_taken_names(scaffold)
    for relative, text in render(scaffold).items():
        write_file(folder / relative, text)
    return scaffold


@click.group()
def plugin() -> None:
    """Write zsk plugins.

    \b
    Example:
      zsk plugin new zsk-focal --add loss
      cd zsk-focal && pip install -e ".[test]" && pytest
    """


@plugin.command()
@click.argument("name")
@click.option(
    "--add",
    "adds",
    multiple=True,
    metavar="KIND[:NAME]",
    help="A component of KIND named NAME (default: NAME less 'zsk-'); repeatable. Kinds: "
    + ", ".join(sorted(SCAFFOLD_KINDS))
    + ". [default: loss]",
)
@click.option(
    "--dir",
    "folder",
    type=FOLDER,
    help="Where to write the package (new or empty); default ./NAME.",
)
def new(name: str, adds: tuple[str, ...], folder: Path | None) -> None:
    """Scaffold plugin package NAME with working components, their tests and a README.

    NAME is the distribution name (its module: zsk-focal -> zsk_focal). Each --add KIND[:NAME]
    adds one component, e.g. --add head:projection --add metric:colour_gap.

    \b
    Example:
      zsk plugin new zsk-focal --add loss
      zsk plugin new zsk-mine --add conditional_head:projection --add metric:colour_gap
      cd zsk-focal && pip install -e ".[test]" && pytest
    """
    folder = folder if folder is not None else Path(name)
    scaffold = write_scaffold(name, adds, folder)
    made = ", ".join(
        f"{c.kind_words} '{c.name}' ({c.class_name} in src/{scaffold.module}/{c.name}.py)"
        for c in scaffold.components
    )
    click.echo(
        f"wrote {scaffold.dist} to {folder}/: {made}\n"
        f"next: cd {folder} && pip install -e '.[test]' && pytest"
    )
