"""A registry passed to the loader and the composer serves nested components too."""

from __future__ import annotations

import pytest
from torch import nn

from zsk.core.build.composer import compose, load_data
from zsk.core.components.interfaces import Normalizer
from zsk.core.spec.loading import load_spec_document
from zsk.registry import Component, ComponentRegistry, RegistryError, get_registry


class Marked(nn.Module):
    """A layer wrapped by the private normaliser."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


class MarkingNorm(Normalizer):
    """Wraps each layer in Marked (known to one private registry only)."""

    name = "marking"
    roles = frozenset({"weight"})

    class Params(Component.Params):
        pass

    def wrap(self, layer: nn.Module) -> nn.Module:
        return Marked(layer)


def private_registry() -> ComponentRegistry:
    registry = ComponentRegistry()
    for entry in get_registry():
        registry.add(
            entry.cls, plugin=entry.plugin, distribution=entry.distribution, version=entry.version
        )
    registry.add(MarkingNorm, plugin="private", distribution="private", version="1")
    return registry


SPEC = """\
data: {{type: awa2, params: {{root: {root}}}}}
model:
  image_size: 16
  embedding_dim: 8
  noise_dim: 4
  generator: {{type: noise_decoder, params: {{base_channels: 4, max_channels: 8}}}}
  trunk:
    type: sn_conv
    params:
      channels: [4, 8]
      weight_norm: {{type: marking}}
      attention_at: [0]
      attention: {{type: sagan, params: {{weight_norm: {{type: marking}}}}}}
  heads:
    real_fake: {{type: real_fake, params: {{weight_norm: {{type: marking}}}}}}
    embedding: {{type: embedding}}
  semantic_encoder: {{type: linear}}
objective:
  discriminator: [{{type: hinge}}, {{type: cosine_real}}]
  generator: [{{type: hinge}}]
"""


def test_nested_components_come_from_the_registry_passed_to_compose(tmp_path):
    from zsk.core.data.synth import synthesize

    synthesize(
        tmp_path / "data", classes=20, unseen=4, images_per_class=1, min_size=16, max_size=16
    )
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(root=tmp_path / "data"))
    with pytest.raises(RegistryError, match="unknown normalizer 'marking'"):
        get_registry().get("normalizer", "marking")
    registry = private_registry()
    spec = load_spec_document(path, registry=registry).spec
    build = compose(spec, load_data(spec, registry=registry), registry=registry)
    trunk = build.gan.discriminator.trunk
    attention = [m for m in trunk.modules() if hasattr(m, "gamma")]
    assert len(attention) == 1
    for conv in ("f", "g", "h"):  # two levels down: trunk -> attention -> normaliser
        assert isinstance(getattr(attention[0], conv), Marked)
    convs = [m for m in trunk.modules() if isinstance(m, nn.Conv2d)]
    wrapped = [m.layer for m in trunk.modules() if isinstance(m, Marked)]
    assert convs and all(conv in wrapped for conv in convs)
    head = build.gan.discriminator.heads["real_fake"]
    assert any(isinstance(m, Marked) for m in head.modules())


def test_a_reference_made_in_code_is_resolved_once_when_built():
    from zsk.core.spec.refs import AttentionRef, NormalizerRef
    from zsk.registry import UserError

    attention = AttentionRef(type="sagan", params={"reduction": 2})
    assert attention.registry is None and attention.params == {"reduction": 2}
    block = attention.build(channels=8)
    assert block.params.reduction == 2  # the typed Params instance, defaults filled
    assert block.params.weight_norm.registry is get_registry()  # nested default resolved too
    with pytest.raises(UserError, match="unknown normalizer 'spectrl'. Did you mean 'spectral'"):
        NormalizerRef(type="spectrl").build()
    with pytest.raises(UserError, match="normalizer 'spectral': invalid params: params.x: Extra"):
        NormalizerRef(type="spectral", params={"x": 1}).build()
