"""What the CLI's fault tests share: ``zsk`` in this process, the checks of a refusal, and a
training process of the tiny components to stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from click.testing import CliRunner

from tests import tiny_components
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
