"""What the CLI's fault tests share: ``zsk`` in this process, the checks of a refusal, and a
training process of the tiny components to stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from tests import tiny_components, tiny_runs
from zsk.core.cli.main import cli

#: Run as a script, it registers the tiny components and starts the CLI.
TINY_CLI = Path(tiny_components.__file__)


def zsk(*args):
    """``zsk ARGS`` in this process, on one thread as the training processes run (runs compared
    bit for bit across processes must use the same number of threads); the caller's random
    state is left as it was."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            return CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        torch.set_num_threads(threads)


def own_data(root: Path, classes, seen, values=None, images_per_class: int = 3) -> Path:
    """An image_folder data set at ``root``: two predicates (``a`` from ``values``, by class,
    default 0.5), ``images_per_class`` 8-px PNGs of its own colour per class; a class name
    that is not a folder name gets no folder."""
    root.mkdir(parents=True, exist_ok=True)
    values = values or {}
    rows = [f"{name},{values.get(name, '0.5')},1" for name in classes]
    (root / "attributes.csv").write_text("class,a,b\n" + "\n".join(rows) + "\n")
    (root / "seen.txt").write_text("\n".join(seen) + "\n")
    (root / "unseen.txt").write_text("\n".join(c for c in classes if c not in seen) + "\n")
    for index, name in enumerate(classes):
        folder = root / "images" / name
        if len(name) < 200 and ".." not in name:
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(images_per_class):
                colour = (40 * index % 256, 9 * i % 256, 0)
                Image.new("RGB", (8, 8), colour).save(folder / f"{i}.png")
    return root


def tiny_spec(folder: Path, data: Path, validation: bool = True, **train) -> Path:
    """``folder/tiny.yaml``: the tiny components' spec on ``data``, with a validation run of one
    held-out class unless not ``validation``; ``train`` overrides its train section."""
    spec = tiny_runs.spec_dict(data, **train)
    if validation:
        spec["validation_run"] = {"classes": 1, "images": 0.25}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def build_files(run: Path) -> dict[str, bytes]:
    """What ``zsk build`` wrote in ``run`` (every lock file and initial weights), by path."""
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name in ("spec.lock.yaml", "init.safetensors", "stages.lock.yaml")
    }


def refused(result, *words):
    """Exit 2, every word in the message, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output, (word, result.output)


def start_training(run: Path, *extra: str) -> subprocess.Popen:
    """``zsk train RUN`` of the tiny components in a process of its own, on one thread."""
    return subprocess.Popen(
        [sys.executable, str(TINY_CLI), "train", str(run), "--device", "cpu", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        cwd=run.parent,
    )
