"""Which validation images choose embedding GZSL's constant, and which runs may provide them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from zsk.core.data.holdout import apply_holdout
from zsk.core.evaluate.calibration import FAMILIAR, calibration_source, check_validation_run
from zsk.core.evaluate.pseudo_unseen import pseudo_unseen_split
from zsk.registry import UserError

CPU = "cpu"


def _run(data, gan=None, name="runs/val") -> SimpleNamespace:
    build = SimpleNamespace(data=data, gan=gan, dims=SimpleNamespace(image_size=16))
    return SimpleNamespace(run_dir=Path(name), build=build)


def test_a_validation_run_of_the_same_task_is_accepted(toy):
    data = toy.data()
    check_validation_run(data, _run(apply_holdout(toy.data(), 1, 0.2, seed=0)))


def test_a_run_without_holdout_is_refused(toy):
    with pytest.raises(UserError, match="runs/val is not a validation run") as caught:
        check_validation_run(toy.data(), _run(toy.data()))
    assert "holdout.classes" in caught.value.hint


@pytest.mark.parametrize(
    "change",
    [
        lambda d: replace(d, attributes=d.attributes * 2),
        lambda d: replace(d, unseen=d.unseen[:1]),
        lambda d: replace(d, classes=[f"other{i}" for i in range(len(d.classes))]),
    ],
)
def test_a_validation_run_of_another_task_is_refused(toy, change):
    other = apply_holdout(change(toy.data()), 1, 0.2, seed=0)
    with pytest.raises(UserError, match="built for another data set or split"):
        check_validation_run(toy.data(), _run(other))


def test_without_a_validation_run_the_familiar_split_is_used_and_named(toy, toy_sets):
    train, _ = toy_sets
    trained = _run(toy.data(), toy.gan(), name="runs/main")
    split = pseudo_unseen_split(train.labels, toy.seen, len(toy.unseen), seed=0)
    source = calibration_source(trained, train, split, None)
    assert source.scorer is trained
    assert source.images.source == FAMILIAR
    assert (source.images.seen, source.images.unseen) == (split.trained, split.held_out)
    assert source.images.distractors == []
    # asked for, the data set's unseen classes compete on the unseen side, without images
    rivals = calibration_source(trained, train, split, None, distractors=True)
    assert rivals.images.distractors == toy.unseen
    assert torch.equal(source.images.images.labels, train.labels[split.val])
    # the generative validation classifier is fitted on the pseudo-seen images not held out
    assert torch.equal(source.fit.images, train.images[split.fit])
    assert set(source.fit.labels.tolist()) == set(split.trained)
