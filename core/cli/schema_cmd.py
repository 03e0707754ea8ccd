"""``zsk schema``: the spec's JSON Schema, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zsk.core.cli.path_types import FILE


@click.command()
@click.option(
    "--out",
    type=FILE,
    help="Write the schema to this file instead of printing it.",
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of a spec, with every registered component's params.

    Point an editor at it for completion and checks, e.g. with the YAML language server:
    a first line `# yaml-language-server: $schema=zsk-spec.schema.json` in the spec.

    \b
    Example:
      zsk schema --out zsk-spec.schema.json
    """
    from zsk.core.spec.schema import json_schema
    from zsk.core.storage.files import write_file
    from zsk.registry import get_registry

    text = json.dumps(json_schema(get_registry()), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text)
        click.echo(f"wrote {out}")
