"""What a checkpoint hands back on resume is checked before torch sees it: a fuzz test changes
each optimiser setting and tensor of a real checkpoint (types, lengths, shapes, ranks, removal,
with its recorded sha256 kept true as a crafted file would) and requires exit 2 naming the
checkpoint, then checks the run directory is still consistent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zsk.core.train.checkpoint import find_latest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_faults import FIXTURES, _spec, _zsk  # noqa: E402


# what a checkpoint hands back ----------------------------------------------------------------
def _group(meta):
    return meta["optimizers"]["generator"]["param_groups"][0]


def _optimizer(meta):
    return meta["optimizers"]["generator"]


#: (what, change to the sidecar's JSON, words of the refusal)
SIDECAR_DAMAGE = [
    ("betas of strings", lambda m: _group(m).update(betas=["a", "b"]), "setting 'betas'"),
    ("betas too short", lambda m: _group(m).update(betas=[0.5]), "setting 'betas'"),
    ("betas removed", lambda m: _group(m).pop("betas"), "parameter group keys"),
    ("eps null", lambda m: _group(m).update(eps=None), "setting 'eps'"),
    ("amsgrad a number", lambda m: _group(m).update(amsgrad=1), "setting 'amsgrad'"),
    ("lr a string", lambda m: _group(m).update(lr="fast"), "setting 'lr'"),
    (
        "plain state of no parameter",
        lambda m: _optimizer(m).update(plain_state={"x": {"a": 1}}),
        "parameter 'x'",
    ),
    (
        "plain state of text",
        lambda m: _optimizer(m).update(plain_state={"0": {"step": "x"}}),
        "plain_state",
    ),
    ("no parameter groups", lambda m: _optimizer(m).update(param_groups=[]), "0 parameter groups"),
    (
        "parameters reordered",
        lambda m: _group(m).update(params=_group(m)["params"][::-1]),
        "another set of parameters",
    ),
    ("optimisers removed", lambda m: m.pop("optimizers"), "optimizers"),
    ("stream past its epoch", lambda m: m["stream"].update(position=10**9), "data stream"),
    (
        "python RNG cut short",
        lambda m: m["rng"].update(python=[3, [1, 2], None]),
        "rng.python",
    ),
    (
        "numpy RNG keys cut short",
        lambda m: m["rng"]["numpy"].__setitem__(1, [1, 2, 3]),
        "rng.numpy",
    ),
    (
        "numpy RNG keys out of range",
        lambda m: m["rng"]["numpy"].__setitem__(1, [2**40] * 624),
        "random number generator state is damaged",
    ),
    ("scalers a string", lambda m: m.update(scalers="x"), "scalers"),
    ("step negative", lambda m: m.update(step=-1), "step"),
]


def _moment(tensors):
    return next(k for k in tensors if k.startswith("optim.generator.") and "exp_avg" in k)


#: (what, change to the checkpoint's tensors, words of the refusal)
TENSOR_DAMAGE = [
    ("a 0-dim moment", lambda t: t.update({_moment(t): torch.tensor(0.5)}), "has shape ()"),
    (
        "a moment of another rank",
        lambda t: t.update({_moment(t): t[_moment(t)][None]}),
        "has shape",
    ),
    (
        "an integer moment",
        lambda t: t.update({_moment(t): t[_moment(t)].long()}),
        "not floating point",
    ),
    (
        "a step of one element in a list",
        lambda t: t.update({"optim.generator.0.step": torch.tensor([1.0])}),
        "not a single number",
    ),
    (
        "state of a parameter the run lacks",
        lambda t: t.update({"optim.generator.999.exp_avg": torch.zeros(1)}),
        "parameter '999'",
    ),
    ("a moment removed", lambda t: t.pop(_moment(t)), "different state entries"),
]


def _damage(checkpoint: Path, sidecar_change=None, tensor_change=None) -> None:
    """Apply a change to a checkpoint, keeping its recorded size and sha256 true (as a crafted
    file would)."""
    import hashlib
    import json

    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    sidecar = checkpoint.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    if tensor_change is not None:
        tensors = load_tensors(checkpoint.read_bytes())
        tensor_change(tensors)
        payload = save_tensors(tensors, metadata={"format": meta["format"]})
        checkpoint.write_bytes(payload)
        meta["weights"].update(size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    if sidecar_change is not None:
        sidecar_change(meta)
    sidecar.write_text(json.dumps(meta))


@pytest.fixture
def trained_two_steps(tiny_parts, tmp_path):
    run = tmp_path / "run"
    spec = _spec(tmp_path, tiny_parts, validation=False, steps=4, checkpoint_every=2)
    assert _zsk("build", spec, "--out", run).exit_code == 0
    assert _zsk("train", run, "--device", "cpu", "--steps", "2").exit_code == 0
    checkpoint = find_latest(run)
    originals = {p: p.read_bytes() for p in (checkpoint, checkpoint.with_suffix(".json"))}
    return run, checkpoint, originals


def test_every_damaged_optimiser_setting_or_state_is_refused_naming_the_checkpoint(
    trained_two_steps, consistent_run
):
    run, checkpoint, originals = trained_two_steps
    cases = [(what, change, None, words) for what, change, words in SIDECAR_DAMAGE]
    cases += [(what, None, change, words) for what, change, words in TENSOR_DAMAGE[1:]]
    for what, sidecar_change, tensor_change, words in cases:
        _damage(checkpoint, sidecar_change, tensor_change)
        resumed = _zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
        assert resumed.exit_code == 2, (what, resumed.output)
        assert "Traceback" not in resumed.output, (what, resumed.output)
        assert words in resumed.output and "step-000000002" in resumed.output, (
            what,
            resumed.output,
        )
        for path, content in originals.items():
            path.write_bytes(content)
    consistent_run(run)
    resumed = _zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
    assert resumed.exit_code == 0, resumed.output


def test_a_0_dim_adam_moment_is_refused_not_a_crash(trained_two_steps, consistent_run):
    run, checkpoint, _ = trained_two_steps
    what, change, words = TENSOR_DAMAGE[0]
    _damage(checkpoint, tensor_change=change)
    resumed = subprocess.run(
        [sys.executable, str(FIXTURES), "train", str(run), "--device", "cpu", "--resume"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert resumed.returncode == 2, (what, resumed.returncode, resumed.stderr)  # 139: SIGSEGV
    assert words in resumed.stderr and "Traceback" not in resumed.stderr, resumed.stderr
    consistent_run(run)


def test_other_optimiser_settings_in_a_checkpoint_are_announced_and_the_spec_kept(
    trained_two_steps, consistent_run
):
    run, checkpoint, _ = trained_two_steps
    _damage(checkpoint, lambda m: _group(m).update(betas=[0.1, 0.2]))
    resumed = _zsk("train", run, "--device", "cpu", "--resume", "--steps", "3")
    assert resumed.exit_code == 0, resumed.output
    assert "generator optimiser's settings differ from the spec's" in resumed.output
    assert "betas [0.1, 0.2] in the checkpoint" in resumed.output
    assert "resuming with the spec's" in resumed.output
    consistent_run(run)
