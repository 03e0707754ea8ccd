"""A validation run's data: held-out seen classes and images, drawn reproducibly, named well."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zsk.core.components.zsl_data import Sample, ZslData
from zsk.core.data.holdout import apply_holdout, unseen_share_count
from zsk.registry import UserError

SEEN, UNSEEN = [0, 1, 3, 4, 5, 6, 7, 8], [2, 9]


def _data() -> ZslData:
    def samples(classes: list[int], per_class: int, tag: str) -> list[Sample]:
        return [Sample(Path(f"{tag}/{c}/{i}.jpg"), c) for c in classes for i in range(per_class)]

    return ZslData(
        root=Path("root"),
        classes=[f"class{c}" for c in range(10)],
        predicates=["a", "b"],
        attributes=torch.rand(10, 2),
        seen=SEEN,
        unseen=UNSEEN,
        train=samples(SEEN, 10, "train"),
        test_seen=samples(SEEN, 2, "test"),
        test_unseen=samples(UNSEEN, 3, "test"),
    )


def test_held_out_classes_and_images_leave_training_and_nothing_is_lost():
    data = _data()
    held = apply_holdout(data, 3, 0.2, seed=4)
    holdout = held.holdout
    assert len(holdout.classes) == 3 and set(holdout.classes) < set(SEEN)
    assert sorted(held.seen + holdout.classes) == SEEN
    assert held.unseen == UNSEEN
    # training keeps 8 of 10 images of each trained class and none of a held-out class
    trained_labels = [s.label for s in held.train]
    assert sorted(set(trained_labels)) == held.seen
    assert all(trained_labels.count(c) == 8 for c in held.seen)
    assert {s.label for s in holdout.unseen_images} == set(holdout.classes)
    assert len(holdout.unseen_images) == 3 * 10
    assert [s.label for s in holdout.seen_images].count(held.seen[0]) == 2
    # every original training image lands in exactly one place
    parts = held.train + holdout.seen_images + holdout.unseen_images
    assert sorted(map(str, (s.path for s in parts))) == sorted(str(s.path) for s in data.train)
    # seen test images of held-out classes are not the validation run's seen classes any more
    assert {s.label for s in held.test_seen} == set(held.seen)
    assert held.test_unseen == data.test_unseen
    # the input is unchanged and the draw repeats with its seed, and moves with another
    assert data.seen == SEEN and data.holdout is None and len(data.train) == 80
    assert apply_holdout(_data(), 3, 0.2, seed=4).holdout == holdout
    draws = {tuple(apply_holdout(_data(), 3, 0.2, seed=s).holdout.classes) for s in range(6)}
    assert len(draws) > 1


def test_default_count_keeps_the_unseen_share():
    assert unseen_share_count(40, 10) == 8  # AwA2's proposed split
    assert unseen_share_count(2, 50) == 1  # a class stays on each side
    held = apply_holdout(_data(), None, 0.2, seed=0)
    assert len(held.holdout.classes) == round(8 * 2 / 10) == 2


def test_classes_by_name():
    held = apply_holdout(_data(), ["class3", "class7"], 0.5, seed=0)
    assert held.holdout.classes == [3, 7]
    assert 3 not in held.seen and 7 not in held.seen


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (0, "holdout.classes is 0, but the data set has 8 seen classes"),
        (8, "holdout.classes is 8, but the data set has 8 seen classes"),
        (["class33"], "'class33', which is not a seen class of the data set (did you mean"),
        (["class2"], "'class2', which is not a seen class"),  # an unseen class
        ([f"class{c}" for c in SEEN], "names 8 of the 8 seen classes"),
    ],
)
def test_impossible_holdouts_are_refused_clearly(classes, message):
    with pytest.raises(UserError, match="holdout.classes") as caught:
        apply_holdout(_data(), classes, 0.2, seed=0)
    assert message in caught.value.message
    assert caught.value.hint
