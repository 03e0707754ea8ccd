"""TrainState through checkpoints: what is saved, what is refused, what older files still load."""

from __future__ import annotations

import json

import pytest
import torch

from tests.tiny_runs import make_build, spec_dict
from zsk.core.train.checkpoint import find_latest, read_checkpoint, write_checkpoint
from zsk.core.train.loop import MAX_NONFINITE_IN_A_ROW, Trainer
from zsk.core.train.trained_weights import load_generator_and_discriminator
from zsk.registry import UserError


def _trainer(data, run_dir, resume=False, objective=None, **train):
    spec = spec_dict(data.root, **train)
    if objective:
        spec["objective"] = objective
    run_dir.mkdir(exist_ok=True)
    return Trainer(make_build(data, spec), run_dir, device="cpu", resume=resume)


def _nan_after(after):
    return {
        "discriminator": [
            {"type": "tiny_lsgan"},
            {"type": "nan_after", "params": {"after": after}},
        ],
        "generator": [{"type": "tiny_lsgan"}],
    }


def _edit_sidecar(run, edit):
    sidecar = find_latest(run).with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    edit(meta)
    sidecar.write_text(json.dumps(meta))
    return sidecar


def test_instance_noise_is_a_function_of_the_step(tiny_data, tmp_path):
    trainer = _trainer(
        tiny_data, tmp_path / "run", steps=3, instance_noise={"std": 0.2, "decay": 0.5}
    )
    trainer.fit()
    assert trainer.noise_std == pytest.approx(0.2 * 0.5**3)
    _, meta = read_checkpoint(find_latest(tmp_path / "run"))
    assert "instance_noise_std" not in meta  # not state: recomputed from the step


def test_resuming_inside_a_run_of_non_finite_steps_keeps_where_it_began(tiny_data, tmp_path):
    run = tmp_path / "run"
    first = _trainer(tiny_data, run, objective=_nan_after(2), steps=4)
    assert first.fit().skipped_steps == 2  # steps 3 and 4; the last checkpoint is step 4
    _, meta = read_checkpoint(find_latest(run))
    assert meta["nonfinite_in_a_row"] == 2
    assert meta["first_bad"] == {"step": 3, "phase": "discriminator", "terms": ["nan_after"]}
    resumed = _trainer(tiny_data, run, resume=True, objective=_nan_after(0), steps=20)
    with pytest.raises(UserError) as stopped:
        resumed.fit()
    message = stopped.value.render()
    assert f"{MAX_NONFINITE_IN_A_ROW} steps in a row" in message
    assert "went bad first at step 3" in message and "'nan_after'" in message
    assert resumed.step == 2 + MAX_NONFINITE_IN_A_ROW


def test_a_checkpoint_of_version_0_1_still_resumes(tiny_data, tmp_path):
    """0.1 saved the instance-noise level and no first_bad; both are handled, for evaluation
    (its weights load as saved) and for resuming."""
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2).fit()

    def as_0_1(meta):
        del meta["first_bad"]
        meta["instance_noise_std"] = 0.0

    _edit_sidecar(run, as_0_1)
    saved, _ = read_checkpoint(find_latest(run))
    build = make_build(tiny_data, spec_dict(tiny_data.root))
    gan = load_generator_and_discriminator(build, run, use_ema=False)
    weights = gan.state_dict()
    assert weights and all(torch.equal(saved[f"gan.{k}"], v) for k, v in weights.items())
    resumed = _trainer(tiny_data, run, resume=True, steps=3)
    assert resumed.fit().step == 3


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m.update(step=-7), "step: Input should be greater than or equal to 0"),
        (lambda m: m.update(step="x"), "step: Input should be a valid integer"),
        (lambda m: m.update(step=5), "records step 5 but is named for step 2"),
        (lambda m: m["optimizers"].update(generator="adam"), "optimizers.generator"),
        (
            lambda m: m["optimizers"]["generator"]["param_groups"][0].update(lr="fast"),
            "setting 'lr' is 'fast'",
        ),
        (lambda m: m["stream"].update(position=-1), "stream.position"),
        (lambda m: m["weights"].update(file="../../x.safetensors"), "no usable sidecar"),
        (lambda m: m["rng"].update(numpy="x"), "rng.numpy"),
        (lambda m: m.update(format="other"), "not a zsk checkpoint"),
    ],
)
def test_a_damaged_sidecar_is_refused_naming_the_field(tiny_data, tmp_path, edit, words):
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2).fit()
    sidecar = _edit_sidecar(run, edit)
    with pytest.raises(UserError) as refused:
        _trainer(tiny_data, run, resume=True, steps=3).fit()
    message = refused.value.render()
    assert words in message and str(sidecar.with_suffix("")) in message


def test_optimizer_moments_of_another_shape_are_refused(tiny_data, tmp_path):
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2).fit()
    path = find_latest(run)
    tensors, meta = read_checkpoint(path)
    name = next(k for k in tensors if k.startswith("optim.generator.") and "exp_avg" in k)
    tensors[name] = torch.zeros(7, 1)
    for key in ("format", "step", "weights"):
        meta.pop(key)
    write_checkpoint(run, 2, tensors, meta, keep=1)
    with pytest.raises(UserError, match=r"optim\.generator optimiser state.*shape \(7, 1\)"):
        _trainer(tiny_data, run, resume=True, steps=3).fit()


def test_weights_without_a_sidecar_refuse_to_resume_or_restart(tiny_data, tmp_path):
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2, checkpoint_every=1, keep_checkpoints=3).fit()
    folder = run / "checkpoints"
    for sidecar in folder.glob("*.json"):
        sidecar.unlink()
    weights = sorted(folder.glob("*.safetensors"))
    before = {p: p.read_bytes() for p in weights}
    for resume in (True, False):
        with pytest.raises(UserError) as refused:
            _trainer(tiny_data, run, resume=resume, steps=4).fit()
        message = refused.value.render()
        assert "step-000000002.safetensors have no usable sidecar" in message
        assert "start again from step 0" in message and "step-000000001.safetensors" in message
    assert {p: p.read_bytes() for p in weights} == before  # nothing replaced


def test_a_sidecar_without_weights_is_an_unfinished_checkpoint(tiny_data, tmp_path):
    """The sidecar is written first: a kill before the weights leaves it alone; resume goes on
    from the previous checkpoint and writes that step again."""
    run = tmp_path / "run"
    _trainer(tiny_data, run, steps=2, checkpoint_every=1, keep_checkpoints=3).fit()
    (run / "checkpoints" / "step-000000002.safetensors").unlink()
    assert find_latest(run).name == "step-000000001.safetensors"
    resumed = _trainer(tiny_data, run, resume=True, steps=3, checkpoint_every=1, keep_checkpoints=3)
    assert resumed.fit().step == 3
    assert read_checkpoint(run / "checkpoints" / "step-000000002.json")[1]["step"] == 2
