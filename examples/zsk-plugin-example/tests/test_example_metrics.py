"""The colour gap metric: zsk's metric contract, and its value by hand."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from zsk.api import LabelledImages, check_component, tiny_inputs

from zsk_plugin_example.metrics import ColourGap


def test_meets_the_zsk_contract():
    check_component(ColourGap)


def _solid(colours: list[tuple[int, int, int]], labels: list[int]) -> LabelledImages:
    images = torch.tensor(colours, dtype=torch.uint8)[:, :, None, None].expand(-1, -1, 4, 4)
    return LabelledImages(images.contiguous(), torch.tensor(labels))


def test_gap_is_the_mean_over_classes_of_the_mean_colour_distance():
    unseen = tiny_inputs().data.unseen  # [4, 5]
    real = _solid([(10, 20, 30), (30, 20, 10), (0, 0, 0)], [unseen[0], unseen[0], unseen[1]])
    imagined = _solid([(20, 20, 20), (3, 4, 0)], [unseen[0], unseen[1]])
    inputs = dataclasses.replace(tiny_inputs(), test_unseen=real, imagined=imagined)
    # class 4: real mean (20, 20, 20) against (20, 20, 20): 0; class 5: (0,0,0) to (3,4,0): 5
    values = ColourGap(ColourGap.Params()).compute(inputs)
    assert values == {"colour_gap": pytest.approx((0 + 5) / 2), "classes": 2}
    assert math.isclose(values["colour_gap"], 2.5)
