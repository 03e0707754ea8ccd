"""The component registry: registration, provenance, duplicates, lookups and listing."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from zsk.registry import (
    Component,
    ComponentRegistry,
    RegistryError,
    components,
    declare_kinds,
    declared_kinds,
)

#: The kinds these tests' registries accept: the registry takes them from whoever declares them.
KINDS = ("loss", "normalizer", "attention")


class Lsgan(Component):
    """A least-squares loss (test double)."""

    kind = "loss"
    name = "lsgan"


class Hinge(Component):
    """A hinge loss (test double)."""

    kind = "loss"
    name = "hinge"


class Spectral(Component):
    """Spectral normalisation (test double)."""

    kind = "normalizer"
    name = "spectral"

    class Params(Component.Params):
        power_iterations: int = Field(1, ge=1, description="power iterations per step")


def _registry(*classes: type[Component], plugin: str = "p", dist: str = "d") -> ComponentRegistry:
    registry = ComponentRegistry(KINDS)
    for cls in classes:
        registry.add(cls, plugin=plugin, distribution=dist, version="1.2")
    return registry


def test_registration_records_kind_name_and_provenance():
    entry = _registry(Lsgan, plugin="zsk.plugins.builtin.losses", dist="zsk").get("loss", "lsgan")
    assert (entry.kind, entry.name, entry.cls) == ("loss", "lsgan", Lsgan)
    assert (entry.plugin, entry.distribution, entry.version) == (
        "zsk.plugins.builtin.losses",
        "zsk",
        "1.2",
    )
    assert entry.description == "A least-squares loss (test double)."
    assert entry.as_dict()["description"] == entry.description


def test_duplicate_within_a_kind_names_both_sources():
    registry = _registry(Lsgan, plugin="first", dist="dist-a")

    class Again(Lsgan):
        """Another lsgan."""

    with pytest.raises(RegistryError) as error:
        registry.add(Again, plugin="second", distribution="dist-b", version="9")
    message = str(error.value)
    assert "duplicate loss 'lsgan'" in message
    assert "'first' (dist-a 1.2)" in message and "'second' (dist-b 9)" in message
    assert "override=True" in message


def test_explicit_override_replaces_the_entry():
    registry = _registry(Lsgan)

    class Better(Lsgan):
        """A better lsgan."""

    registry.add(Better, plugin="mine", distribution="x", version="1", override=True)
    assert registry.get("loss", "lsgan").cls is Better
    assert registry.get("loss", "lsgan").plugin == "mine"


def test_same_name_in_two_kinds_is_allowed():
    class SpectralLoss(Component):
        """A loss that happens to share a name."""

        kind = "loss"
        name = "spectral"

    registry = _registry(Spectral, SpectralLoss)
    assert registry.get("loss", "spectral").cls is SpectralLoss
    assert registry.get("normalizer", "spectral").cls is Spectral


def test_unknown_name_suggests_the_closest_and_lists_the_rest():
    registry = _registry(Lsgan, Hinge)
    with pytest.raises(RegistryError) as error:
        registry.get("loss", "lsgn")
    message = str(error.value)
    assert "unknown loss 'lsgn'. Did you mean 'lsgan'?" in message
    assert "available losses: hinge, lsgan" in message
    assert "zsk plugins --kind loss" in message


def test_name_of_another_kind_is_pointed_out():
    registry = _registry(Lsgan, Spectral)
    with pytest.raises(RegistryError) as error:
        registry.get("normalizer", "lsgan")
    assert "'lsgan' is a loss, not a normalizer" in str(error.value)


def test_unknown_kind_is_refused_with_a_suggestion():
    with pytest.raises(RegistryError) as error:
        ComponentRegistry(KINDS).get("normaliser", "spectral")
    assert "unknown kind 'normaliser'. Did you mean 'normalizer'?" in str(error.value)


def test_wildcard_listing_filters_by_kind_and_glob_and_sorts():
    registry = _registry(Lsgan, Hinge, Spectral)
    assert [e.name for e in registry.list("loss")] == ["hinge", "lsgan"]
    assert [e.name for e in registry.list(pattern="*s*")] == ["lsgan", "spectral"]
    assert [(e.kind, e.name) for e in registry.list(pattern="h*")] == [("loss", "hinge")]
    assert registry.list("attention") == []
    assert registry.names("loss") == ["hinge", "lsgan"]


def test_params_rows_describe_types_defaults_and_descriptions():
    rows = _registry(Spectral).get("normalizer", "spectral").params_rows()
    assert rows == [
        {
            "name": "power_iterations",
            "type": "int",
            "default": 1,
            "description": "power iterations per step",
        }
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: setattr(c, "kind", "widget"), "has kind 'widget'"),
        (lambda c: setattr(c, "name", ""), "has no `name`"),
        (lambda c: setattr(c, "__doc__", None), "has no docstring"),
        (lambda c: setattr(c, "Params", dict), "Params must be a pydantic BaseModel"),
        (lambda c: setattr(c, "Params", type("P", (BaseModel,), {})), "must refuse unknown keys"),
    ],
)
def test_malformed_components_are_refused_with_the_reason(mutate, expected):
    cls = type("Broken", (Component,), {"kind": "loss", "name": "broken", "__doc__": "Broken."})
    mutate(cls)
    with pytest.raises(RegistryError) as error:
        ComponentRegistry(KINDS).add(cls, plugin="p", distribution="d", version="1")
    assert expected in str(error.value)


def test_params_field_without_default_is_refused():
    class Params(Component.Params):
        size: int = Field(description="no default")

    cls = type(
        "NoDefault",
        (Component,),
        {"kind": "loss", "name": "nodefault", "__doc__": "No default.", "Params": Params},
    )
    with pytest.raises(RegistryError, match="fields size have no default"):
        ComponentRegistry(KINDS).add(cls, plugin="p", distribution="d", version="1")


def test_a_plain_class_is_not_a_component():
    with pytest.raises(RegistryError, match="is not a zsk component class"):
        ComponentRegistry(KINDS).add(object, plugin="p", distribution="d", version="1")  # type: ignore[arg-type]


@pytest.fixture
def declarations(monkeypatch):
    """Kinds declared inside a test are forgotten after it."""
    monkeypatch.setattr(components, "_DECLARED", dict(components._DECLARED))


def test_a_default_registry_accepts_kinds_declared_after_it_was_made(declarations):
    registry = ComponentRegistry()
    with pytest.raises(RegistryError, match="unknown kind 'gadget'"):
        registry.names("gadget")

    class Gadget(Component):
        """Base of gadgets (test double)."""

        kind = "gadget"

    class Knob(Gadget):
        """A knob (test double)."""

        name = "knob"

    assert declare_kinds(Gadget) == ("gadget",)
    assert declared_kinds()[-1] == "gadget"
    registry.add(Knob, plugin="p", distribution="d", version="1")
    assert registry.names("gadget") == ["knob"]


def test_one_kind_declared_by_two_bases_is_refused(declarations):
    first = type("First", (Component,), {"kind": "gadget"})
    second = type("Second", (Component,), {"kind": "gadget"})
    declare_kinds(first)
    declare_kinds(first)  # the same declaration again is harmless
    with pytest.raises(RegistryError, match="kind 'gadget' is declared by .*First and again"):
        declare_kinds(second)


def test_a_class_of_no_declared_kind_is_told_a_declared_base(declarations):
    base = type("Gadget", (Component,), {"kind": "gadget", "__module__": "gadgets"})
    declare_kinds(base)
    cls = type("Widget", (Component,), {"kind": "widget", "name": "w", "__doc__": "W."})
    with pytest.raises(RegistryError) as error:
        ComponentRegistry(("loss", "gadget")).add(cls, plugin="p", distribution="d", version="1")
    assert "has kind 'widget'; kinds are loss, gadget" in error.value.message
    assert error.value.hint == "subclass the base class of one kind, e.g. gadgets.Gadget"


def test_the_core_declares_each_kind_by_its_base_class():
    from zsk.core.components import interfaces

    assert set(interfaces.KINDS) <= set(declared_kinds())
    bases = {k: getattr(interfaces, n) for k, n in [("loss", "Loss"), ("head", "Head")]}
    for kind, base in bases.items():
        assert components._DECLARED[kind] is base
