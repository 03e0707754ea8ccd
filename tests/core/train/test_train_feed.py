"""The training feed's augmentation of real images: what the spec's ``train`` section asks."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.tiny_components import SIZE
from tests.tiny_runs import make_build, spec_dict
from zsk.core.train.loop import Trainer


def _drawn(tiny_data, tmp_path, translate: float) -> torch.Tensor:
    spec = spec_dict(tiny_data.root, hflip=False, translate=translate)
    trainer = Trainer(make_build(tiny_data, spec), tmp_path / f"run-{translate}", device="cpu")
    return trainer.feed.draw().real


def _shifted(image: torch.Tensor, dy: int, dx: int, most: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(image[None], (most,) * 4, mode="replicate")[0]
    return padded[:, most + dy : most + dy + SIZE, most + dx : most + dx + SIZE]


def test_translate_shifts_each_real_image_by_at_most_its_share_of_the_side(tiny_data, tmp_path):
    plain, moved = _drawn(tiny_data, tmp_path, 0.0), _drawn(tiny_data, tmp_path, 0.25)
    most = int(0.25 * SIZE)
    assert moved.shape == plain.shape and not torch.equal(moved, plain)
    offsets = range(-most, most + 1)
    for original, seen in zip(plain, moved, strict=True):
        assert any(
            torch.equal(seen, _shifted(original, dy, dx, most))
            for dy, dx in itertools.product(offsets, offsets)
        )


@pytest.mark.parametrize("share", [-0.1, 0.5])
def test_translate_outside_its_range_is_refused_naming_the_field(tiny_data, share):
    from zsk.core.spec.loading import validate_spec
    from zsk.registry import UserError

    with pytest.raises(UserError, match="train.translate"):
        validate_spec(spec_dict(tiny_data.root, translate=share), source="spec.yaml")
