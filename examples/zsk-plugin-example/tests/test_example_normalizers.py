"""Pixel normalisation: zsk's contract, and its values against the formula."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from zsk.api import UserError, check_component

from zsk_plugin_example.normalizers import PixelNorm


def test_meets_the_zsk_contract():
    check_component(PixelNorm)


def test_each_position_is_divided_by_its_rms_over_channels():
    eps = 1e-8
    layer = PixelNorm(PixelNorm.Params(eps=eps)).feature(3)
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0)) * 4
    out = layer(x)
    for b in range(2):
        for i in range(4):
            for j in range(5):
                vector = x[b, :, i, j].tolist()
                rms = math.sqrt(sum(v * v for v in vector) / 3 + eps)
                expected = torch.tensor([v / rms for v in vector])
                assert torch.allclose(out[b, :, i, j], expected, atol=1e-5)


def test_it_has_no_parameters_and_is_the_same_in_training_and_evaluation():
    layer = PixelNorm(PixelNorm.Params()).feature(4)
    x = torch.randn(3, 4, 2, 2)
    assert list(layer.parameters()) == []
    assert torch.equal(layer.train()(x), layer.eval()(x))


def test_asking_it_to_normalise_weights_is_a_user_error():
    with pytest.raises(UserError, match="normalizer 'pixel' cannot normalise weights"):
        PixelNorm(PixelNorm.Params()).wrap(nn.Conv2d(3, 4, 3))
