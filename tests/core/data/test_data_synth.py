"""The embedded data set: AwA2 layout, composable unseen classes, deterministic for a seed."""

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.core.data.synth import GROUPS, PREDICATES, choose_classes, synthesize
from zsk.plugins.builtin.datasets.image_folders import Awa2
from zsk.registry import UserError

TINY = {"classes": 14, "unseen": 2, "images_per_class": 2, "min_size": 16, "max_size": 24}


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = synthesize(tmp_path / "a", seed=3, **TINY)
    synthesize(tmp_path / "b", seed=3, **TINY)
    c = synthesize(tmp_path / "c", seed=4, **TINY)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.classes != c.classes


def test_written_set_reads_back_with_the_awa2_reader(tmp_path):
    summary = synthesize(tmp_path, **TINY)
    data = Awa2(Awa2.Params(root=str(tmp_path), seen_test_fraction=0.5)).load()
    assert data.classes == summary.classes and data.predicates == list(PREDICATES)
    assert [data.classes[i] for i in data.unseen] == summary.unseen
    assert len(data.train) + len(data.test_seen) == 12 * 2 and len(data.test_unseen) == 2 * 2
    binary = Awa2(Awa2.Params(root=str(tmp_path), matrix="binary")).load().attributes
    assert ((data.attributes >= 0.5).float() == binary).all()


def test_default_choice_meets_the_brief():
    seen, unseen = choose_classes(30, 8, np.random.default_rng(0))
    assert len(seen) + len(unseen) >= 30 and len(unseen) >= 8 and len(PREDICATES) >= 16
    seen_combos = {c.values for c in seen}
    assert not seen_combos & {c.values for c in unseen}  # never drawn in training
    for g, group in enumerate(GROUPS):
        for value in group:
            assert sum(c.values[g] == value for c in seen) >= 2, value


def test_image_sizes_vary_within_bounds(tmp_path):
    from PIL import Image

    synthesize(tmp_path, **{**TINY, "images_per_class": 3})
    sizes = {Image.open(p).size for p in (tmp_path / "JPEGImages").rglob("*.jpg")}
    assert len(sizes) > 5
    assert all(16 <= side <= 24 for size in sizes for side in size)


def test_impossible_requests_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="cannot show every attribute value") as caught:
        synthesize(tmp_path, classes=8, unseen=2)
    assert "the defaults: 48 classes, 8 unseen" in caught.value.hint
    help_text = CliRunner().invoke(cli, ["data", "synth", "--help"]).output
    assert "[default: 48]" in help_text and "[default: 8]" in help_text
    with pytest.raises(UserError, match="--unseen"):
        synthesize(tmp_path, classes=14, unseen=14)
