"""Property: any text, any mutation of a valid spec, is either a spec or a clear UserError."""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zsk.core.build.composer import compose, load_data
from zsk.core.spec.loading import load_spec
from zsk.core.spec.sections import Spec
from zsk.registry import UserError

EXAMPLE = yaml.safe_load((Path(__file__).parents[3] / "examples" / "shapes.yaml").read_text())
#: `file:line:col  path  message`, `--set a.b=v  path  message`, or a hint line (indented).
LOCATED = re.compile(r"^(\S+:\d+:\d+  \S.*?  \S|--set \S+  \S|  )")

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


PATHS = [p for p in _paths(EXAMPLE) if p]


@st.composite
def mutated(draw):
    spec = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = spec
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "rename"]))
            if action == "replace":
                parent[key] = draw(values)
            elif action == "delete":
                del parent[key]
            elif isinstance(parent, dict):
                parent[str(key) + draw(st.text(min_size=1, max_size=2))] = parent.pop(key)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return spec


def _assert_clear(error: UserError) -> None:
    text = error.render()
    assert text.strip()
    assert "Traceback" not in text


def _load(text: str, overrides=()):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_spec(path, overrides)
        except UserError as exc:
            _assert_clear(exc)
            return exc


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_any_text_is_a_spec_or_a_user_error(text):
    _load(text)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(mutated())
def test_mutated_specs_fail_with_located_errors(spec):
    result = _load(yaml.safe_dump(spec, allow_unicode=True))
    if isinstance(result, UserError):
        lines = result.render().splitlines()
        assert lines and all(LOCATED.match(line) for line in lines), lines
    else:
        assert isinstance(result, Spec), type(result)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(max_size=30), values)
def test_any_override_is_applied_or_refused_clearly(path, value):
    _load(yaml.safe_dump(EXAMPLE), [f"{path}={yaml.safe_dump(value, default_flow_style=True)}"])


sizes = st.fixed_dictionaries(
    {
        "image_size": st.sampled_from([8, 12, 16, 24, 32]),
        "trunk": st.lists(st.integers(1, 6), min_size=1, max_size=5),
        "kernel": st.integers(1, 6),
        "padding": st.integers(0, 3),
        "bottleneck": st.integers(1, 8),
        "embedding_dim": st.integers(2, 8),
        "noise_dim": st.integers(0, 4),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sizes)
def test_random_sizes_compose_or_fail_clearly(tmp_path, sizes):
    from zsk.core.data.synth import synthesize

    root = tmp_path / "data"
    if not root.exists():
        synthesize(root, classes=20, unseen=4, images_per_class=1, min_size=16, max_size=16)
    head = {"kernel_size": sizes["kernel"], "padding": sizes["padding"]}
    text = yaml.safe_dump(
        {
            "data": {"type": "awa2", "params": {"root": str(root)}},
            "model": {
                "image_size": sizes["image_size"],
                "embedding_dim": sizes["embedding_dim"],
                "noise_dim": sizes["noise_dim"],
                "generator": {
                    "type": "encoder_decoder",
                    "params": {
                        "base_channels": 2,
                        "max_channels": 4,
                        "bottleneck_size": sizes["bottleneck"],
                    },
                },
                "trunk": {"type": "sn_conv", "params": {"channels": sizes["trunk"]}},
                "heads": {
                    "real_fake": {"type": "real_fake", "params": head},
                    "embedding": {"type": "embedding", "params": head},
                    "reconstruction_feature": {"type": "reconstruction_feature"},
                },
                "semantic_encoder": {"type": "linear"},
            },
            "objective": {
                "discriminator": [{"type": "lsgan"}, {"type": "cosine_real"}],
                "generator": [{"type": "lsgan"}, {"type": "l1_reconstruction"}],
            },
        }
    )
    spec = _load(text)
    assert not isinstance(spec, UserError), spec
    try:
        compose(spec, load_data(spec))
    except UserError as exc:
        _assert_clear(exc)
        assert all(p.path[0] == "model" for p in exc.problems)
