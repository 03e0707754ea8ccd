"""Every registered component meets its kind's contract (``zsk.testing``); what the contract
refuses in a data set."""

from pathlib import Path

import pytest
import torch
from pydantic import Field

from zsk.core.components.interfaces import Dataset, Dims
from zsk.core.components.zsl_data import Sample, ZslData
from zsk.plugins.builtin.generators import EncoderDecoder
from zsk.registry import Component, get_registry
from zsk.testing import check_component, iter_components

CHECKED_KINDS = (
    "normalizer",
    "attention",
    "generator",
    "trunk",
    "head",
    "semantic_encoder",
    "loss",
)

#: Sizes of a feature data set (12-d vectors) for the components over feature vectors.
FEATURE_DIMS = Dims(image_size=32, num_attributes=8, num_seen_classes=4, feature_dim=12)
SMALL_MLP = {"hidden": [16]}

#: Components whose defaults do not fit the tiny check: the smallest params or dims that do.
PARAMS = {
    ("trunk", "timm"): {"architecture": "test_resnet"},
    ("generator", "feature_mlp"): SMALL_MLP,
    ("trunk", "feature_mlp"): SMALL_MLP,
    ("head", "concat_critic"): SMALL_MLP,
}
DIMS = {
    ("generator", "feature_mlp"): FEATURE_DIMS,
    ("trunk", "feature_mlp"): FEATURE_DIMS,
    ("loss", "pretrained_classifier"): FEATURE_DIMS,
    # batch norm cannot train on one 1×1 feature map: 64 px leaves test_resnet 2×2 at batch 1
    ("trunk", "timm"): Dims(image_size=64, num_attributes=8, num_seen_classes=4),
    ("semantic_encoder", "identity"): Dims(
        image_size=32, num_attributes=8, num_seen_classes=4, embedding_dim=8
    ),
}


@pytest.mark.parametrize(
    "entry", list(iter_components(kinds=CHECKED_KINDS)), ids=lambda e: f"{e.kind}:{e.name}"
)
def test_component_meets_the_contract(entry):
    key = (entry.kind, entry.name)
    check_component(entry.cls, params=PARAMS.get(key), dims=DIMS.get(key))


def test_every_network_kind_has_builtin_components():
    kinds = {entry.kind for entry in iter_components(kinds=CHECKED_KINDS)}
    assert kinds == set(CHECKED_KINDS)
    assert all(e.kind == "head" for e in iter_components(kinds=["head"]))


@pytest.mark.parametrize("entry", list(iter_components()), ids=lambda e: f"{e.kind}:{e.name}")
def test_component_is_described_and_its_params_documented(entry):
    assert entry.description and not entry.description.endswith(("(being written)", "TODO"))
    for field_name, field in entry.cls.Params.model_fields.items():
        assert field.description, f"{entry.kind} '{entry.name}': param {field_name} undocumented"
        assert not field.is_required(), f"{entry.kind} '{entry.name}': {field_name} has no default"


def _zsl_data(root: Path, seen: list[int], unseen: list[int], rows: int = 4) -> ZslData:
    return ZslData(
        root=root,
        classes=["a", "b", "c", "d"],
        predicates=["p", "q"],
        attributes=torch.rand(rows, 2),
        seen=seen,
        unseen=unseen,
        train=[Sample(root / "a.jpg", 0)],
        test_seen=[Sample(root / "b.jpg", 1)],
        test_unseen=[Sample(root / "c.jpg", 2)],
    )


class _Data(Dataset):
    """A data set made up in memory."""

    name = "made_up"

    class Params(Component.Params):
        root: str = Field("", description="where it lives")
        fault: str = Field("none", description="which consistency rule to break")

    def load(self):
        root = Path(self.params.root)
        if self.params.fault == "overlap":
            return _zsl_data(root, [0, 1, 2], [2, 3])
        if self.params.fault == "rows":
            return _zsl_data(root, [0, 1], [2, 3], rows=3)
        return _zsl_data(root, [0, 1], [2, 3])


def test_dataset_contract_checks_the_loaded_split(tmp_path):
    check_component(_Data, params={"root": str(tmp_path)})
    with pytest.raises(AssertionError, match="read class 'c' as both seen and unseen"):
        check_component(_Data, params={"root": str(tmp_path), "fault": "overlap"})
    with pytest.raises(AssertionError, match="read 3 attribute rows for 4 classes"):
        check_component(_Data, params={"root": str(tmp_path), "fault": "rows"})
    with pytest.raises(AssertionError, match="pass params"):
        check_component(_Data)


def test_head_contract_uses_the_given_trunk_features():
    head = get_registry().component("head", "real_fake")
    params = {"kernel_size": 4, "padding": 0}
    check_component(head, params=params, in_shape=(8, 5, 5))
    with pytest.raises(AssertionError, match=r"refuses \(8, 2, 2\) features: needs at least 4×4"):
        check_component(head, params=params, in_shape=(8, 2, 2))


def test_iter_components_filters_by_kind():
    registry = get_registry()
    heads = list(iter_components(registry, kinds=["head"]))
    assert [e.name for e in heads] == registry.names("head")
    assert len(list(iter_components(registry))) == len(registry)


class _ClaimsNoSource(EncoderDecoder):
    """Says it imagines without a source image, but still needs one."""

    name = "claims_no_source"
    source_images = "optional"

    def forward(self, attributes, images=None, noise=None):
        if images is None:
            raise ValueError("claims_no_source needs `images` after all")
        return super().forward(attributes, images, noise)


def test_contract_checks_a_translator_without_a_source_when_it_says_it_can():
    small = {"base_channels": 4, "max_channels": 8, "attention_at": [], "noise": True}
    check_component(EncoderDecoder, params={**small, "source_dropout": 0.5})
    with pytest.raises(ValueError, match="needs `images` after all"):
        check_component(_ClaimsNoSource, params=small)
