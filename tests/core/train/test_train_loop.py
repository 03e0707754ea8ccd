"""The loop on tiny runs: outputs, resume equality, refusal, interrupts, non-finite losses."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from PIL import Image

from tests.tiny_runs import make_build, spec_dict
from zsk.core.train.checkpoint import find_latest, list_checkpoints, read_checkpoint
from zsk.core.train.loop import MAX_NONFINITE_IN_A_ROW, Trainer
from zsk.core.train.signals import StopRequest, TrainingInterrupted, stop_on_signals
from zsk.registry import UserError

#: every source of randomness the loop has, switched on
NOISY = {
    "label_smoothing": {},
    "label_flip": {"real_fake": 0.3, "cosine": 0.3},
    "instance_noise": {"std": 0.1, "decay": 0.9},
    "ema": {"decay": 0.9},
    "grad_clip": 5.0,
    "n_critic": 2,
    "schedule": {"type": "constant_then_linear", "constant": 2, "decay": 4, "unit": "steps"},
}


def _trainer(data, run_dir, generator="tiny_translator", objective=None, **train):
    spec = spec_dict(data.root, generator, **train)
    if objective:
        spec["objective"] = objective
    run_dir.mkdir(exist_ok=True)
    return Trainer(make_build(data, spec), run_dir, device="cpu", **train.get("_kw", {}))


def test_training_writes_metrics_samples_and_checkpoints(tiny_data, tmp_path):
    run = tmp_path / "run"
    result = _trainer(tiny_data, run, keep_checkpoints=1, ema={"decay": 0.5}).fit()
    assert result.step == 4 and result.skipped_steps == 0
    assert [p.name for p in list_checkpoints(run)] == ["step-000000004.safetensors"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for key in (
        "d/tiny_lsgan",
        "d/tiny_cosine",
        "g/tiny_lsgan",
        "g/tiny_cosine",
        "g/tiny_rec",
        "grad_norm/d",
        "grad_norm/g",
        "lr_g",
        "lr_d",
        "images_per_s",
    ):
        assert all(isinstance(r[key], float) for r in records), key
    # 4 source rows; a source column, then 3 seen and 2 unseen classes; 16 px, 2 px padding
    with Image.open(run / "samples" / "latest.png") as grid:
        assert grid.size == (6 * 16 + 7 * 2, 4 * 16 + 5 * 2)
    assert (run / "samples" / "step-000000002.png").is_file()
    tensors, _ = read_checkpoint(result.checkpoint)
    assert any(k.startswith("ema.") for k in tensors)


def test_the_spec_pins_the_training_threads(tiny_data, tmp_path):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _trainer(tiny_data, tmp_path / "pinned", threads=1)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        _trainer(tiny_data, tmp_path / "default")  # no threads: torch's own setting stays
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_noise_generator_samples_every_class_from_fixed_noise(tiny_data, tmp_path):
    run = tmp_path / "run"
    _trainer(tiny_data, run, generator="tiny_noise", steps=2).fit()
    with Image.open(run / "samples" / "latest.png") as grid:
        assert grid.size == (5 * 16 + 6 * 2, 4 * 16 + 5 * 2)


def _state(trainer):
    state = {f"gan.{k}": v for k, v in trainer.gan.state_dict().items()}
    state.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
    for name, optimizer in (("g", trainer.optimization.opt_g), ("d", trainer.optimization.opt_d)):
        for index, entries in optimizer.state_dict()["state"].items():
            state.update({f"{name}.{index}.{k}": v for k, v in entries.items()})
    return state


def test_resuming_equals_never_stopping_bit_for_bit(tiny_data, tmp_path):
    straight = _trainer(tiny_data, tmp_path / "straight", steps=6, **NOISY)
    straight.fit()
    first = _trainer(tiny_data, tmp_path / "split", steps=3, **NOISY)
    first.fit()
    build = make_build(tiny_data, spec_dict(tiny_data.root, steps=6, **NOISY))
    second = Trainer(build, tmp_path / "split", device="cpu", resume=True)
    result = second.fit()
    assert result.step == 6
    expected, actual = _state(straight), _state(second)
    assert expected.keys() == actual.keys()
    different = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert different == []
    assert second.noise_std == straight.noise_std


def test_a_run_with_checkpoints_is_not_overwritten_without_resume(tiny_data, tmp_path):
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2).fit()
    with pytest.raises(UserError, match="(?s)already has checkpoints.*--resume"):
        _trainer(tiny_data, run, steps=2).fit()
    build = make_build(tiny_data, spec_dict(tiny_data.root, steps=2))
    with pytest.raises(UserError, match="already trained to step 2"):
        Trainer(build, run, device="cpu", resume=True).fit()


def test_resume_refuses_a_checkpoint_of_another_model(tiny_data, tmp_path):
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2).fit()
    spec = spec_dict(tiny_data.root, steps=4)
    spec["model"]["embedding_dim"] = 5
    with pytest.raises(UserError, match="another model"):
        Trainer(make_build(tiny_data, spec), run, device="cpu", resume=True).fit()


def test_resume_reports_a_truncated_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    result = _trainer(tiny_data, run, steps=2).fit()
    result.checkpoint.write_bytes(result.checkpoint.read_bytes()[:100])
    build = make_build(tiny_data, spec_dict(tiny_data.root, steps=4))
    with pytest.raises(UserError, match="corrupt"):
        Trainer(build, run, device="cpu", resume=True).fit()


def test_sigterm_finishes_the_step_and_writes_a_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    trainer = _trainer(tiny_data, run, steps=50, checkpoint_every=100)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(TrainingInterrupted) as stopped:
            trainer.fit(stop)
    assert stopped.value.exit_code == 143
    assert stopped.value.checkpoint == find_latest(run)
    assert read_checkpoint(find_latest(run))[1]["step"] == 1
    assert signal.getsignal(signal.SIGTERM) is not stop.handle


def test_ctrl_c_exit_code_and_second_ctrl_c_is_immediate():
    stop = StopRequest()
    previous = signal.getsignal(signal.SIGINT)
    try:
        stop.handle(signal.SIGINT)
        assert stop.requested and stop.exit_code == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def _nan_objective(after, count=10**9):
    return {
        "discriminator": [
            {"type": "tiny_lsgan"},
            {"type": "nan_after", "params": {"after": after, "count": count}},
        ],
        "generator": [{"type": "tiny_lsgan"}],
    }


def test_non_finite_steps_are_skipped_and_counted(tiny_data, tmp_path):
    run = tmp_path / "run"
    trainer = _trainer(
        tiny_data, run, objective=_nan_objective(after=1, count=2), steps=4, log_every=4
    )
    result = trainer.fit()
    assert result.step == 4 and result.skipped_steps == 2
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["skipped_steps"] == 2 and record["d/nan_after"] == 0.0


def test_repeated_non_finite_loss_stops_naming_the_term_and_last_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    trainer = _trainer(tiny_data, run, objective=_nan_objective(after=2), steps=20)
    with pytest.raises(UserError) as stopped:
        trainer.fit()
    message = stopped.value.render()
    assert f"{MAX_NONFINITE_IN_A_ROW} steps in a row" in message
    assert "'nan_after'" in message and "discriminator loss" in message and "step 3" in message
    assert "step-000000002.safetensors" in message
    assert trainer.step == 2 + MAX_NONFINITE_IN_A_ROW
    saved, _ = read_checkpoint(find_latest(run))
    for name, param in trainer.gan.discriminator.named_parameters():
        assert torch.equal(param, saved[f"gan.discriminator.{name}"]), name
