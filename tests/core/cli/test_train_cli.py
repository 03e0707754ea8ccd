"""`zsk train` end to end on a tiny run: outputs, refusal, resume, device errors, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests import tiny_components, tiny_runs
from zsk.core.cli.main import cli

#: Run as a script, it registers the tiny components and starts the CLI.
FIXTURES = Path(tiny_components.__file__)


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with tiny_runs.registered_run(tmp_path, steps=2) as run_dir:
        yield run_dir


def _zsk(*args):
    with torch.random.fork_rng(devices=[]):
        return CliRunner().invoke(cli, list(args))


def test_train_then_refuse_then_resume(tiny_run):
    result = _zsk("train", "--device", "cpu")  # the latest build
    assert result.exit_code == 0, result.output
    assert "trained" in result.output and "step 2" in result.output
    assert (tiny_run / "checkpoints" / "step-000000002.safetensors").is_file()
    assert (tiny_run / "samples" / "latest.png").is_file()
    again = _zsk("train", str(tiny_run), "--device", "cpu")
    assert again.exit_code == 2
    assert "already has checkpoints" in again.output and "--resume" in again.output
    resumed = _zsk("train", str(tiny_run), "--device", "cpu", "--resume", "--steps", "3")
    assert resumed.exit_code == 0, resumed.output
    assert "step 3" in resumed.output


def test_epochs_set_the_length(tiny_run):
    # 18 training images (3 seen classes x 6), batch 4: 4 batches per epoch
    result = _zsk("train", str(tiny_run), "--device", "cpu", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert "step 8" in result.output


def test_user_mistakes_exit_2(tiny_run, monkeypatch):
    both = _zsk("train", str(tiny_run), "--steps", "2", "--epochs", "1")
    assert both.exit_code == 2 and "not both" in both.output
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cuda = _zsk("train", str(tiny_run), "--device", "cuda")
    assert cuda.exit_code == 2 and "no CUDA GPU" in cuda.output and "--device cpu" in cuda.output
    missing = _zsk("train", str(tiny_run.parent / "nowhere"))
    assert missing.exit_code == 2 and "not a run directory" in missing.output


def test_sigterm_writes_a_checkpoint_and_exits_143(tiny_run):
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [
            sys.executable,
            str(FIXTURES),
            "train",
            str(tiny_run),
            "--device",
            "cpu",
            "--steps",
            "100000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=tiny_run.parent,
    )
    metrics = tiny_run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not metrics.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "stopped by SIGTERM" in stderr and "--resume" in stderr
    checkpoints = sorted((tiny_run / "checkpoints").glob("*.safetensors"))
    assert checkpoints and checkpoints[-1].name in stderr
