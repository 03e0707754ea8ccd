"""The composer: construction order and sizes, wiring errors in the spec's terms, seeding."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests import tiny_components
from tests.tiny_components import TinyEmbedding
from zsk.core.build import composer
from zsk.core.build.composer import compose
from zsk.core.build.dry_pass import measure
from zsk.core.components.zsl_data import ZslData
from zsk.core.spec.sections import Spec, SpecError
from zsk.registry import UserError, get_registry, hookimpl
from zsk.registry.manager import register_plugin, unregister_plugin

NUM_ATTRIBUTES, NUM_SEEN = 5, 3


class WideEmbedding(TinyEmbedding):
    """An embedding one wider than embedding_dim: a wiring bug the dry run must catch."""

    name = "wide_emb"

    def forward(self, features):
        out = super().forward(features)
        return torch.cat([out, out[:, :1]], dim=1)


@pytest.fixture
def tiny():
    """The tests' tiny components and the faulty embedding above, registered for the test."""

    @hookimpl
    def zsk_register_components(register):
        register(WideEmbedding)

    register_plugin(SimpleNamespace(zsk_register_components=zsk_register_components), "wide")
    try:
        with tiny_components.registered():
            yield get_registry()
    finally:
        unregister_plugin("wide")


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
        "generator": {"type": "tiny_noise"},
        "trunk": {"type": "tiny_trunk", "params": {"channels": [4, 8]}},
        "heads": {
            "real_fake": {"type": "tiny_real_fake"},
            "attribute": {"type": "tiny_attribute"},
            "embedding": {"type": "tiny_embedding"},
            "reconstruction_feature": {"type": "tiny_reconstruction"},
        },
        "semantic_encoder": {"type": "tiny_semantic"},
    }
    model.update(model_changes)
    return {
        "name": "tiny",
        "data": {"type": "awa2"},
        "model": model,
        "objective": {
            "discriminator": [{"type": "tiny_lsgan"}],
            "generator": [{"type": "tiny_lsgan", "weight": 2.0}, {"type": "tiny_rec"}],
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
    # 16 px through two stride-2 convs: 8 channels at 4×4, which the reconstruction head
    # passes on to the generator as they are.
    heads = build.gan.discriminator.heads
    assert heads["embedding"].in_shape == (8, 4, 4)
    assert build.gan.generator.feature_shape == (8, 4, 4)
    assert build.dry_pass_result.shapes["model.heads.attribute"] == (NUM_ATTRIBUTES,)
    assert build.dry_pass_result.shapes["model.generator"] == (3, 16, 16)
    names = [(t.name, t.weight) for t in build.objective.generator]
    assert names == [("tiny_lsgan", 2.0), ("tiny_rec", 1.0)]
    assert build.provenance["model.heads.embedding"]["plugin"] == "tiny"
    assert build.provenance["objective.generator.1"]["type"] == "tiny_rec"
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
    assert loaded.dry_pass_result is None
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
    # the kernel-3 heads each; the reconstruction head takes features of any size
    assert paths == [("model", "heads", role) for role in ("real_fake", "attribute", "embedding")]
    text = caught.value.render()
    assert (
        "heads.embedding ('tiny_embedding') needs at least 3×3 features, but trunk 'tiny_trunk' "
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
    spec = validated(tiny_spec(generator={"type": "tiny_noise", "params": {"detach": True}}), tiny)
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
    heads = {"real_fake": {"type": "tiny_real_fake"}}
    raw = tiny_spec(heads=heads)
    raw["objective"]["discriminator"].append({"type": "tiny_rec"})
    spec = Spec.model_validate(raw)  # without the registry: the composer still checks
    with pytest.raises(SpecError) as caught:
        compose(spec, tiny_data(), registry=tiny)
    found = [(p.path, p.message) for p in caught.value.problems]
    wrong_phase = "is not a discriminator term; it belongs in objective.generator"
    no_head = (
        "reads the reconstruction_feature head(s), but model.heads has no "
        "'reconstruction_feature' (it has: real_fake)"
    )
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


def test_builtin_components_compose(tmp_path, tiny_shapes):
    from zsk.core.build.composer import load_data
    from zsk.core.data.synth import synthesize
    from zsk.core.spec.loading import load_spec

    synthesize(tmp_path, classes=20, unseen=4, images_per_class=1, min_size=16, max_size=16)
    overrides = [*tiny_shapes, f"data.params.root={tmp_path}"]
    spec = load_spec(Path(__file__).parents[3] / "examples" / "shapes.yaml", overrides)
    build = compose(spec, load_data(spec))
    assert build.dims.num_attributes == build.data.num_attributes == 20
    # 16 px through the two stride-2 blocks of channels=[8,16]
    assert build.dry_pass_result.shapes["model.trunk"] == (16, 4, 4)
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
