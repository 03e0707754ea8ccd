"""The independent attribute judge: binarisation, its accuracy measure, and that it learns."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.evaluate.attribute_probe import (
    AttributeProbe,
    attribute_accuracy,
    binarize,
    predicate_accuracy,
    train_probe,
)

CPU = torch.device("cpu")


def test_binary_attributes_are_cut_at_one_half():
    binary, rule = binarize(torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    assert binary.tolist() == [[False, True], [True, True]]
    assert "0.5" in rule


def test_continuous_attributes_are_cut_at_each_predicates_mean():
    values = torch.tensor([[10.0, 0.2], [30.0, 0.9], [80.0, 0.4]])  # means 40 and 0.5
    binary, rule = binarize(values)
    assert binary.tolist() == [[False, False], [False, True], [True, False]]
    assert "mean" in rule


class ColourReader(nn.Module):
    """A fixed judge: predicates 0..2 'on' when that channel is bright, 3..5 always 'off'."""

    def forward(self, images):
        bright = images.mean(dim=(2, 3))
        return torch.cat([bright, -torch.ones(len(images), 3)], dim=1)


def test_attribute_accuracy_is_the_mean_over_predicates(toy):
    generator = torch.Generator().manual_seed(0)
    labels = torch.tensor([4] * 6 + [5] * 6)
    judged = LabelledImages(toy.class_images(labels, generator), labels)
    binary, _ = binarize(toy.data().attributes)
    # class 4 = [1,0,1,0,1,0], class 5 = [0,1,1,1,0,0]; the judge reads 0..2 right, says 0
    # for 3..5: per predicate 1, 1, 1, 1/2 (class 5 has 3), 1/2 (class 4 has 4), 1
    expected = (1 + 1 + 1 + 0.5 + 0.5 + 1) / 6
    accuracy = attribute_accuracy(ColourReader(), judged, binary, CPU, batch_size=5)
    assert accuracy == pytest.approx(expected)
    per_predicate = predicate_accuracy(ColourReader(), judged, binary, CPU, batch_size=5)
    assert per_predicate.tolist() == pytest.approx([1, 1, 1, 0.5, 0.5, 1])


def test_probe_learns_the_seen_classes_attributes(toy, toy_sets):
    train, test = toy_sets
    binary, _ = binarize(toy.data().attributes)
    seen_test = test.subset(torch.isin(test.labels, torch.tensor(toy.seen)))
    untrained = AttributeProbe(binary.shape[1]).eval()
    before = attribute_accuracy(untrained, seen_test, binary, CPU, batch_size=16)
    probe = train_probe(train, binary, steps=80, device=CPU, seed=0)
    after = attribute_accuracy(probe, seen_test, binary, CPU, batch_size=16)
    assert after >= 0.9 > before
    assert not probe.training
