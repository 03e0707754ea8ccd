"""The composer: construction order and sizes, wiring errors in the spec's terms, seeding."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
import torch
from pydantic import Field
from torch import nn

from zsk.core.build import composer
from zsk.core.build.composer import compose
from zsk.core.build.dry_run import measure
from zsk.core.components.interfaces import (
    EmbeddingHead,
    Generator,
    Head,
    Loss,
    SemanticEncoder,
    Trunk,
)
from zsk.core.components.zsl_data import ZslData
from zsk.core.spec.sections import Spec, SpecError
from zsk.registry import Component, UserError, get_registry, hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin

NUM_ATTRIBUTES, NUM_SEEN = 5, 3


class TinyTrunk(Trunk):
    """Stride-2 convs, one per entry of channels."""

    name = "tiny_trunk"

    class Params(Component.Params):
        channels: list[int] = Field(default_factory=lambda: [4, 8])

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        widths = [dims.channels, *params.channels]
        self.convs = nn.Sequential(
            *(
                nn.Conv2d(a, b, 4, stride=2, padding=1)
                for a, b in zip(widths, widths[1:], strict=False)
            )
        )

    def forward(self, images):
        return self.convs(images)

    def describe(self):
        return f"with {len(self.params.channels)} stride-2 blocks"


class _TinyHead(Head):
    class Params(Component.Params):
        kernel: int = Field(3, ge=1)

    out: ClassVar[str] = ""

    def __init__(self, params, *, dims, in_shape):
        super().__init__(params, dims=dims, in_shape=in_shape)
        width = {"real_fake": 1, "attribute": dims.num_attributes, "embedding": dims.embedding_dim}
        self.conv = nn.Conv2d(in_shape[0], width.get(self.role, 2), params.kernel)

    @classmethod
    def input_problem(cls, params, in_shape):
        if min(in_shape[1:]) < params.kernel:
            return f"needs at least {params.kernel}×{params.kernel} features"
        return None

    def forward(self, features):
        out = self.conv(features)
        return out if self.role == "reconstruction_feature" else out.mean(dim=(2, 3)).squeeze(1)


class TinyRealFake(_TinyHead):
    """Real/fake score."""

    name, role = "tiny_rf", "real_fake"


class TinyAttribute(_TinyHead):
    """Attributes."""

    name, role = "tiny_attr", "attribute"


class TinyEmbedding(EmbeddingHead, _TinyHead):
    """Embedding with a classifier."""

    name, role = "tiny_emb", "embedding"

    def __init__(self, params, *, dims, in_shape):
        super().__init__(params, dims=dims, in_shape=in_shape)
        self.classifier = nn.Linear(dims.embedding_dim, dims.num_seen_classes)

    def class_logits(self, embedding):
        return self.classifier(embedding)


class TinyReconstruction(_TinyHead):
    """Reconstruction features."""

    name, role = "tiny_rec", "reconstruction_feature"


class WideEmbedding(TinyEmbedding):
    """An embedding one wider than embedding_dim: a wiring bug the dry run must catch."""

    name = "wide_emb"

    def forward(self, features):
        out = super().forward(features)
        return torch.cat([out, out[:, :1]], dim=1)


class TinyGenerator(Generator):
    """Attributes and noise to an image by one linear layer."""

    name = "tiny_gen"

    class Params(Component.Params):
        detach: bool = False

    def __init__(self, params, *, dims, feature_shape):
        super().__init__(params, dims=dims, feature_shape=feature_shape)
        self.pixels = dims.channels * dims.image_size**2
        self.linear = nn.Linear(dims.num_attributes + dims.noise_dim, self.pixels)
        if feature_shape is not None:
            self.decode = nn.Linear(math.prod(feature_shape), self.pixels)

    def _image(self, flat):
        d = self.dims
        image = torch.tanh(flat).reshape(-1, d.channels, d.image_size, d.image_size)
        return image.detach() if self.params.detach else image

    def forward(self, attributes, images=None, noise=None):
        return self._image(self.linear(torch.cat([attributes, noise], dim=1)))

    def decode_features(self, features):
        return self._image(self.decode(features.flatten(1)))


class TinySemantic(SemanticEncoder):
    """Linear ψ."""

    name = "tiny_sem"

    def __init__(self, params, *, dims):
        super().__init__(params, dims=dims)
        self.linear = nn.Linear(dims.num_attributes, dims.embedding_dim)

    def forward(self, attributes):
        return self.linear(attributes)


class TinyAdversarial(Loss):
    """Reads the real/fake head in both phases."""

    name = "tiny_adv"
    requires = frozenset({"real_fake"})

    def forward(self, step):
        return step.head("real_fake", "fake").mean()


class TinyGeneratorOnly(Loss):
    """A generator-only term reading the embedding."""

    name = "tiny_gen_only"
    phases = frozenset({"generator"})
    requires = frozenset({"embedding"})

    def forward(self, step):
        return step.head("embedding", "fake").square().mean()


COMPONENTS = (
    TinyTrunk,
    TinyRealFake,
    TinyAttribute,
    TinyEmbedding,
    TinyReconstruction,
    WideEmbedding,
    TinyGenerator,
    TinySemantic,
    TinyAdversarial,
    TinyGeneratorOnly,
)


@pytest.fixture
def tiny():
    """The tiny components above, registered as a plugin for the test."""

    @hookimpl
    def zsk_register_components(register):
        for cls in COMPONENTS:
            register(cls)

    register_plugin(SimpleNamespace(zsk_register_components=zsk_register_components), "tiny")
    try:
        yield get_registry()
    finally:
        unregister_plugin("tiny")


def tiny_data() -> ZslData:
    generator = torch.Generator().manual_seed(7)
    return ZslData(
        root=Path("nowhere"),
        classes=[f"c{i}" for i in range(NUM_SEEN + 1)],
        predicates=[f"p{i}" for i in range(NUM_ATTRIBUTES)],
        attributes=torch.rand(NUM_SEEN + 1, NUM_ATTRIBUTES, generator=generator),
        seen=list(range(NUM_SEEN)),
        unseen=[NUM_SEEN],
        train=[],
        test_seen=[],
        test_unseen=[],
    )


def tiny_spec(**model_changes) -> dict:
    model = {
        "image_size": 16,
        "embedding_dim": 6,
        "noise_dim": 3,
        "generator": {"type": "tiny_gen"},
        "trunk": {"type": "tiny_trunk"},
        "heads": {
            "real_fake": {"type": "tiny_rf"},
            "attribute": {"type": "tiny_attr"},
            "embedding": {"type": "tiny_emb"},
            "reconstruction_feature": {"type": "tiny_rec"},
        },
        "semantic_encoder": {"type": "tiny_sem"},
    }
    model.update(model_changes)
    return {
        "name": "tiny",
        "data": {"type": "awa2"},
        "model": model,
        "objective": {
            "discriminator": [{"type": "tiny_adv"}],
            "generator": [{"type": "tiny_adv", "weight": 2.0}, {"type": "tiny_gen_only"}],
        },
        "train": {"seed": 3},
    }


def validated(raw: dict, registry) -> Spec:
    return Spec.model_validate(raw, context={"registry": registry})


def test_compose_sizes_come_from_data_and_trunk(tiny):
    build = compose(validated(tiny_spec(), tiny), tiny_data())
    assert (build.dims.num_attributes, build.dims.num_seen_classes, build.dims.channels) == (
        NUM_ATTRIBUTES,
        NUM_SEEN,
        3,
    )
    # 16 px through two stride-2 convs: 8 channels at 4×4; kernel-3 heads then leave 2×2.
    heads = build.gan.discriminator.heads
    assert heads["embedding"].in_shape == (8, 4, 4)
    assert build.gan.generator.feature_shape == (2, 2, 2)
    assert build.dry_run.shapes["model.heads.attribute"] == (NUM_ATTRIBUTES,)
    assert build.dry_run.shapes["model.generator"] == (3, 16, 16)
    names = [(t.name, t.weight) for t in build.objective.generator]
    assert names == [("tiny_adv", 2.0), ("tiny_gen_only", 1.0)]
    assert build.provenance["model.heads.embedding"]["plugin"] == "tiny"
    assert build.provenance["objective.generator.1"]["type"] == "tiny_gen_only"
    assert all(p.grad is None for p in build.gan.parameters())


def test_same_seed_same_weights_and_callers_rng_untouched(tiny):
    spec = validated(tiny_spec(), tiny)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = compose(spec, tiny_data()).gan.state_dict()
    assert torch.equal(torch.rand(3), before)
    second = compose(spec, tiny_data()).gan.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other = validated({**tiny_spec(), "train": {"seed": 4}}, tiny)
    third = compose(other, tiny_data()).gan.state_dict()
    assert not torch.equal(first["generator.linear.weight"], third["generator.linear.weight"])


def test_without_the_dry_pass_the_same_networks_are_composed(tiny, monkeypatch):
    spec = validated(tiny_spec(), tiny)
    checked = compose(spec, tiny_data())

    def no_dry_pass(*args, **kwargs):
        raise AssertionError("the dry pass ran")

    monkeypatch.setattr(composer, "dry_pass", no_dry_pass)
    loaded = compose(spec, tiny_data(), dry=False)
    assert loaded.dry_run is None
    first, second = checked.gan.state_dict(), loaded.gan.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_head_needing_larger_features_names_trunk_and_image_size(tiny):
    spec = validated(
        tiny_spec(trunk={"type": "tiny_trunk", "params": {"channels": [4, 8, 8]}}), tiny
    )
    with pytest.raises(SpecError) as caught:
        compose(spec, tiny_data())
    paths = [p.path for p in caught.value.problems]
    assert ("model", "heads", "real_fake") in paths and len(paths) == 4
    text = caught.value.render()
    assert (
        "heads.embedding ('tiny_emb') needs at least 3×3 features, but trunk 'tiny_trunk' "
        "gives 8×2×2 features at model.image_size=16 with 3 stride-2 blocks" in text
    )


def test_wrong_output_width_is_reported_at_the_head(tiny):
    heads = {**tiny_spec()["model"]["heads"], "embedding": {"type": "wide_emb"}}
    with pytest.raises(SpecError) as caught:
        compose(validated(tiny_spec(heads=heads), tiny), tiny_data())
    (problem,) = caught.value.problems
    assert problem.path == ("model", "heads", "embedding")
    assert "gives (2, 7) but model.embedding_dim need (B, 6)" in problem.message


def test_detached_generator_is_caught_by_the_dry_backward(tiny):
    spec = validated(tiny_spec(generator={"type": "tiny_gen", "params": {"detach": True}}), tiny)
    with pytest.raises(SpecError) as caught:
        compose(spec, tiny_data())
    assert caught.value.problems[0].path == ("model", "generator")
    assert "no gradient reaches" in caught.value.problems[0].message


def test_spec_size_disagreeing_with_data_says_both(tiny):
    spec = validated(tiny_spec(num_attributes=9), tiny)
    with pytest.raises(SpecError) as caught:
        compose(spec, tiny_data())
    (problem,) = caught.value.problems
    assert problem.path == ("model", "num_attributes")
    assert "the spec says 9, but the data set 'awa2' at nowhere has 5 attributes" in problem.message


def test_loss_requirements_and_phases_are_checked(tiny):
    heads = {"real_fake": {"type": "tiny_rf"}}
    raw = tiny_spec(heads=heads)
    raw["objective"]["discriminator"].append({"type": "tiny_gen_only"})
    spec = Spec.model_validate(raw)  # without the registry: the composer still checks
    with pytest.raises(SpecError) as caught:
        compose(spec, tiny_data(), registry=tiny)
    found = [(p.path, p.message) for p in caught.value.problems]
    wrong_phase = "is not a discriminator term; it belongs in objective.generator"
    no_head = "reads the embedding head(s), but model.heads has no 'embedding' (it has: real_fake)"
    assert [path for path, message in found if wrong_phase in message] == [
        ("objective", "discriminator", 1, "type")
    ]
    assert [path for path, message in found if no_head in message] == [
        ("objective", "discriminator", 1, "type"),
        ("objective", "generator", 1, "type"),
    ]


def test_measure_scales_flops_linearly_with_batch(tiny):
    build = compose(validated(tiny_spec(), tiny), tiny_data())
    initial = {k: v.clone() for k, v in build.gan.state_dict().items()}
    parts = (build.spec, build.data, build.gan)
    at_one, at_ten = measure(*parts, 1), measure(*parts, 10)
    # The generator's linear layer alone: 2·in·out multiply-adds per sample, forward.
    linear = build.gan.generator.linear
    assert at_one.flops >= 2 * linear.in_features * linear.out_features
    assert at_ten.flops - at_one.flops == 9 * (measure(*parts, 2).flops - at_one.flops)
    assert at_ten.saved_bytes > at_one.saved_bytes > 0
    assert all(torch.equal(initial[k], v) for k, v in build.gan.state_dict().items())


def test_builtin_components_compose(tmp_path):
    from zsk.core.build.composer import load_data
    from zsk.core.data.synth import synthesize

    synthesize(tmp_path, classes=20, unseen=4, images_per_class=1, min_size=16, max_size=16)
    raw = {
        "name": "builtin",
        "data": {"type": "awa2", "params": {"root": str(tmp_path)}},
        "model": {
            "image_size": 16,
            "embedding_dim": 8,
            "noise_dim": 4,
            "generator": {
                "type": "noise_decoder",
                "params": {"base_channels": 4, "max_channels": 8},
            },
            "trunk": {"type": "sn_conv", "params": {"channels": [4, 8]}},
            "heads": {
                "real_fake": {"type": "real_fake"},
                "embedding": {"type": "embedding"},
                "reconstruction_feature": {"type": "reconstruction_feature"},
            },
            "semantic_encoder": {"type": "linear"},
        },
        "objective": {
            "discriminator": [{"type": "hinge"}, {"type": "cosine_real"}],
            "generator": [{"type": "hinge"}, {"type": "l1_reconstruction"}],
        },
    }
    spec = validated(raw, get_registry())
    build = compose(spec, load_data(spec))
    assert build.dims.num_attributes == build.data.num_attributes == 20
    assert build.dry_run.shapes["model.trunk"] == (8, 4, 4)
    assert build.provenance["model.trunk.params.weight_norm"]["type"] == "spectral"


def test_missing_data_folder_is_located_at_its_param(tmp_path):
    from zsk.core.build.composer import load_data

    spec = Spec.model_validate(
        {**tiny_spec(), "data": {"type": "awa2", "params": {"root": str(tmp_path / "none")}}}
    )
    with pytest.raises(UserError) as caught:
        load_data(spec)
    assert caught.value.problems[0].path == ("data", "params", "root")
    assert "none" in caught.value.problems[0].message
