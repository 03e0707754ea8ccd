"""Checkpoint files: round trip, atomic completion, pruning, corruption and mismatch errors."""

from __future__ import annotations

import json

import pytest
import torch

from tests.tiny_runs import make_build, spec_dict
from zsk.core.train.checkpoint import (
    find_latest,
    list_checkpoints,
    model_fingerprint,
    read_checkpoint,
    write_checkpoint,
)
from zsk.core.train.optimizer_state import join_optimizer_state, split_optimizer_state
from zsk.core.train.trained_weights import load_generator_and_discriminator
from zsk.registry import UserError


def _tensors(value: float):
    return {"gan.w": torch.full((3, 2), value), "rng.torch": torch.arange(4, dtype=torch.uint8)}


def test_round_trip_and_newest_last(tmp_path):
    write_checkpoint(tmp_path, 5, _tensors(1.0), {"epoch": 0}, keep=3)
    path = write_checkpoint(tmp_path, 12, _tensors(2.0), {"epoch": 1, "x": [1, 2]}, keep=3)
    assert find_latest(tmp_path) == path and path.name == "step-000000012.safetensors"
    tensors, meta = read_checkpoint(path)
    assert torch.equal(tensors["gan.w"], torch.full((3, 2), 2.0))
    assert tensors["rng.torch"].dtype == torch.uint8
    assert meta["step"] == 12 and meta["x"] == [1, 2]
    assert meta["weights"]["size"] == path.stat().st_size
    assert read_checkpoint(path.with_suffix(".json"))[1] == meta


def test_keeps_the_newest_k(tmp_path):
    for step in range(1, 6):
        write_checkpoint(tmp_path, step, _tensors(step), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "step-000000004.safetensors",
        "step-000000005.safetensors",
    ]
    assert len(list((tmp_path / "checkpoints").iterdir())) == 4


def test_a_checkpoint_without_its_sidecar_is_not_complete(tmp_path):
    """Leftovers of unfinished writes (temporary files; a sidecar whose weights a kill stopped)
    and weights without a sidecar are not complete: the last complete checkpoint is the newest."""
    good = write_checkpoint(tmp_path, 1, _tensors(1.0), {}, keep=3)
    folder = tmp_path / "checkpoints"
    sidecar = json.loads(good.with_suffix(".json").read_text())
    sidecar["weights"]["file"] = "step-000000004.safetensors"
    (folder / "step-000000004.json").write_text(json.dumps(sidecar))
    (folder / "step-000000002.safetensors").write_bytes(b"half")
    (folder / "step-000000003.safetensors.tmp").write_bytes(b"partial")
    (folder / "step-000000003.json.tmp").write_text('{"weights": {"file": "x"}}')
    assert find_latest(tmp_path) == good


def test_truncated_or_altered_weights_are_a_user_error(tmp_path):
    path = write_checkpoint(tmp_path, 1, _tensors(1.0), {}, keep=3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt.*truncated"):
        read_checkpoint(path)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(UserError, match="does not match the sha256"):
        read_checkpoint(path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(UserError, match="cannot be read"):
        read_checkpoint(path)


def test_optimizer_state_survives_the_split_into_tensors_and_json():
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([param], lr=0.1, betas=(0.5, 0.9))
    for _ in range(2):
        optimizer.zero_grad()
        (param**2).sum().backward()
        optimizer.step()
    tensors, meta = split_optimizer_state(optimizer, "optim.g")
    assert set(tensors) == {"optim.g.0.step", "optim.g.0.exp_avg", "optim.g.0.exp_avg_sq"}
    meta = json.loads(json.dumps(meta))
    fresh = torch.optim.Adam([torch.nn.Parameter(torch.ones(3))], lr=1.0)
    join_optimizer_state(fresh, tensors, meta, "optim.g")
    restored = fresh.state_dict()
    original = optimizer.state_dict()
    assert restored["param_groups"] == original["param_groups"]
    for key, value in original["state"][0].items():
        assert torch.equal(restored["state"][0][key], value)


def test_evaluator_loads_trained_weights_and_refuses_another_model(tiny_data, tmp_path):
    build = make_build(tiny_data, spec_dict(tiny_data.root))
    fingerprint = model_fingerprint(build.gan, tiny_data.fingerprint())
    state = {
        f"gan.{k}": v + 1 if v.is_floating_point() else v for k, v in build.gan.state_dict().items()
    }
    generator_state = build.gan.generator.state_dict()
    state.update(
        {
            f"ema.{k}": torch.zeros_like(v) if v.is_floating_point() else v
            for k, v in generator_state.items()
        }
    )
    write_checkpoint(tmp_path, 3, state, {"model_fingerprint": fingerprint}, keep=1)
    fresh = make_build(tiny_data, spec_dict(tiny_data.root))
    gan = load_generator_and_discriminator(fresh, tmp_path, use_ema=False)
    assert not gan.training
    trunk_key = next(k for k in state if k.startswith("gan.discriminator.trunk"))
    assert torch.equal(gan.state_dict()[trunk_key[4:]], state[trunk_key])
    gan = load_generator_and_discriminator(fresh, tmp_path, use_ema=True)
    assert all((p == 0).all() for p in gan.generator.parameters())
    wider = spec_dict(tiny_data.root)
    wider["model"] = dict(wider["model"], embedding_dim=5)
    other = make_build(tiny_data, dict(wider, name="other"))
    with pytest.raises(UserError, match="another model"):
        load_generator_and_discriminator(other, tmp_path)
    with pytest.raises(UserError, match="no checkpoint"):
        load_generator_and_discriminator(fresh, tmp_path / "empty")
