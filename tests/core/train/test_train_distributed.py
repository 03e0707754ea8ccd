"""Two CPU processes with gloo, started by torchrun: replicas end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from tests import tiny_components
from tests.tiny_runs import write_run
from zsk.core.train.checkpoint import find_latest, read_checkpoint
from zsk.core.train.distributed import Distributed, state_digest


def test_two_gloo_processes_keep_identical_replicas(tiny_data_root, tmp_path):
    run = write_run(
        tmp_path,
        tiny_data_root,
        steps=3,
        batch_size=2,
        log_every=1,
        ema={"decay": 0.5},
        instance_noise={"std": 0.1},
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        str(Path(tiny_components.__file__)),
        "train",
        str(run),
        "--device",
        "cpu",
    ]
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "replicas agree: 2 processes" in done.stderr
    assert done.stdout.count("trained") == 1  # rank 0 alone reports and writes
    _, meta = read_checkpoint(find_latest(run))
    assert meta["step"] == 3 and meta["world_size"] == 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3


def test_state_digest_tells_replicas_apart():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    b.load_state_dict(a.state_dict())
    assert state_digest(a) == state_digest(b)
    with torch.no_grad():
        b.bias[0] = torch.nextafter(b.bias[0], torch.tensor(9.0))
    assert state_digest(a) != state_digest(b)
    assert not Distributed().enabled
