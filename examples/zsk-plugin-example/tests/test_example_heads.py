"""The projection head and the linear critic: zsk's contract, and their scores by hand."""

from __future__ import annotations

import torch
from zsk.api import Condition, Dims, check_component

from zsk_plugin_example.heads import AttributeProjection, LinearCritic

DIMS = Dims(image_size=16, num_attributes=3, num_seen_classes=2)
IN_SHAPE = (4, 2, 2)


def test_both_meet_the_zsk_contract():
    check_component(AttributeProjection)
    check_component(LinearCritic)


def test_projection_adds_the_inner_product_of_projected_attributes_and_features():
    head = AttributeProjection(
        AttributeProjection.Params(weight_norm={"type": "none"}), dims=DIMS, in_shape=IN_SHAPE
    )
    features = torch.randn(2, *IN_SHAPE)
    attributes = torch.rand(2, 3)
    condition = Condition(attributes, torch.tensor([0, 1]))
    w, b, v = head.score.weight[0], head.score.bias[0], head.embed.weight
    for i in range(2):
        h = features[i].mean(dim=(1, 2))
        expected = h @ w + b + h @ (v @ attributes[i])
        torch.testing.assert_close(head(features, condition)[i], expected)


def test_critic_is_an_affine_map_of_the_pooled_features():
    head = LinearCritic(LinearCritic.Params(), dims=DIMS, in_shape=IN_SHAPE)
    features = torch.randn(3, *IN_SHAPE)
    pooled = features.mean(dim=(2, 3))
    torch.testing.assert_close(head(features), pooled @ head.score.weight[0] + head.score.bias)
