"""A plugin's outputs are checked where they enter: a data set reader's parts must agree at
``zsk data check`` and ``zsk build``, and a network's output must be a tensor at build. Either
way the command exits 2 naming the component and its plugin, never with a traceback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from zsk.core.components.interfaces import Trunk
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.synth import synthesize
from zsk.plugins.builtin.datasets.image_folders import Awa2
from zsk.plugins.builtin.trunks import SNConvTrunk

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class ShortAwa2(Awa2):
    """AwA2's layout, read with the last class's attribute row lost."""

    name = "short_awa2"

    def load(self) -> ZslData:
        data = super().load()
        return dataclasses.replace(data, attributes=data.attributes[:-1])


class StrayLabelAwa2(Awa2):
    """AwA2's layout, read with the first training image labelled as an unseen class."""

    name = "stray_label_awa2"

    def load(self) -> ZslData:
        data = super().load()
        first = dataclasses.replace(data.train[0], label=data.unseen[0])
        return dataclasses.replace(data, train=[first, *data.train[1:]])


class ListTrunk(SNConvTrunk):
    """The sn_conv trunk, returning its features in a list."""

    name = "list_trunk"

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        return [super().forward(x)]


@pytest.fixture
def shapes(tmp_path, monkeypatch):
    """A working directory with a tiny synthetic data set at data/shapes."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data" / "shapes"
    synthesize(root, classes=20, unseen=4, images_per_class=1, min_size=16, max_size=16)
    return root


@pytest.mark.parametrize(
    ("reader", "problem"),
    [
        (ShortAwa2, lambda unseen: "read 19 attribute rows for 20 classes (one row per class)"),
        (
            StrayLabelAwa2,
            lambda unseen: (
                f"read a train sample of class '{unseen[0][1]}' (index "
                f"{unseen[0][0]}), which is not a seen class"
            ),
        ),
    ],
)
def test_a_reader_whose_parts_disagree_is_refused_at_check_and_build(
    shapes, run_zsk, add_components, tiny_shapes, reader, problem
):
    add_components(reader, name="reader-plugin")
    names = [line.split()[1] for line in (shapes / "classes.txt").read_text().splitlines()]
    unseen_names = (shapes / "testclasses.txt").read_text().split()
    unseen = sorted((names.index(name), name) for name in unseen_names)
    says = [
        f"data set '{reader.name}' (plugin 'reader-plugin')",
        problem(unseen),
        "its plugin's author",
    ]
    run_zsk("data", "check", shapes, "--format", reader.name, code=2, says=says)
    overrides = [f"--set={o}" for o in (*tiny_shapes, f"data.type={reader.name}")]
    run_zsk("build", EXAMPLES / "shapes.yaml", *overrides, code=2, says=says)


def test_a_trunk_returning_a_list_is_refused_at_build_naming_it(
    shapes, run_zsk, add_components, tiny_shapes
):
    add_components(ListTrunk, name="trunk-plugin")
    overrides = [f"--set={o}" for o in (*tiny_shapes, "model.trunk.type=list_trunk")]
    run_zsk(
        "build",
        EXAMPLES / "shapes.yaml",
        *overrides,
        code=2,
        says=["model.trunk", "trunk 'list_trunk'", "returned a list, not a tensor"],
    )


def test_a_component_class_of_another_kind_is_refused_when_built(add_components):
    from zsk.core.spec.refs import TrunkRef
    from zsk.registry import UserError, get_registry

    class NotATrunk(Trunk):
        """Registers as a trunk, but its class hands back an object of no kind."""

        name = "not_a_trunk"

        def __new__(cls, *args, **kwargs):
            return object()

    add_components(NotATrunk, name="odd-plugin")
    with pytest.raises(UserError, match="trunk 'not_a_trunk' built a object, not a Trunk"):
        TrunkRef(type="not_a_trunk").build(dims=None, registry=get_registry())  # type: ignore[arg-type]
