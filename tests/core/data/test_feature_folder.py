"""zsk's feature folder (features.json, features.npy, samples.csv): read back, faults refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from zsk.core.cli.main import cli
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.feature_folder import index_json, read_feature_folder, samples_csv
from zsk.core.data.folder_formats import load_folder
from zsk.registry import UserError
from zsk.testing.xlsa17 import write_xlsa17

ROWS = [
    ("train", "cat", "images/cat/1.jpg"),
    ("test_seen", "cat", "images/cat/2.jpg"),
    ("train", "dog", "images/dog/1.jpg"),
    ("test_unseen", "owl", "images/owl/1.jpg"),
    ("train", "cat", "images/cat/3.jpg"),
]


def _data() -> ZslData:
    return ZslData(
        root=Path("."),
        classes=["cat", "dog", "owl"],
        predicates=["furry", "flies"],
        attributes=torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.2, 1.0]]),
        seen=[0, 1],
        unseen=[2],
        train=[],
        test_seen=[],
        test_unseen=[],
        validation_classes=[1],
    )


def write_folder(root: Path, features: np.ndarray, rows=ROWS, complete=True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    source = {"backbone": "test"}
    text = index_json(_data(), len(features), features.shape[1], source, complete)
    (root / "features.json").write_text(text)
    np.save(root / "features.npy", features)
    (root / "samples.csv").write_text(samples_csv(rows))


def test_round_trip(tmp_path):
    features = np.arange(15, dtype=np.float32).reshape(5, 3)
    write_folder(tmp_path, features)
    name, data = load_folder(tmp_path)
    assert name == "feature_folder" and data.is_features and data.feature_dim == 3
    assert torch.equal(data.features, torch.from_numpy(features))
    assert [(s.row, s.label) for s in data.train] == [(0, 0), (2, 1), (4, 0)]
    assert [(s.row, s.label) for s in data.test_seen] == [(1, 0)]
    assert [(s.row, s.label) for s in data.test_unseen] == [(3, 2)]
    assert data.classes == ["cat", "dog", "owl"] and data.predicates == ["furry", "flies"]
    assert torch.equal(data.attributes, _data().attributes)
    assert (data.seen, data.unseen, data.validation_classes) == ([0, 1], [2], [1])


def test_reading_never_writes_the_array_back(tmp_path):
    features = np.ones((5, 3), dtype=np.float32)
    write_folder(tmp_path, features)
    data = read_feature_folder(tmp_path)
    data.features[0, 0] = 7.0
    del data
    assert np.load(tmp_path / "features.npy")[0, 0] == 1.0


def _fault(root: Path) -> str:
    with pytest.raises(UserError) as error:
        read_feature_folder(root)
    return error.value.render()


def test_unfinished_extraction_says_how_to_resume(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32), complete=False)
    assert "run the same `zsk data features` command again" in _fault(tmp_path)


def test_nan_rows_are_named(tmp_path):
    features = np.ones((5, 3), dtype=np.float32)
    features[3, 1] = np.nan
    write_folder(tmp_path, features)
    text = _fault(tmp_path)
    assert "1 feature rows hold NaN" in text and "row 3 (line 5 of samples.csv)" in text


def test_array_shape_must_match_the_index(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32))
    np.save(tmp_path / "features.npy", np.ones((4, 3), dtype=np.float32))
    assert "float32 (5, 3)" in _fault(tmp_path)


def test_pickled_array_is_refused(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32))
    np.save(tmp_path / "features.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "features.npy" in _fault(tmp_path)


def test_sample_count_must_match(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32), rows=ROWS[:4])
    (tmp_path / "features.json").write_text(
        index_json(_data(), 5, 3, {}, True)
    )  # the index still says 5
    assert "lists 4 samples; features.json says 5" in _fault(tmp_path)


def test_unseen_class_in_training_rows_is_refused(tmp_path):
    rows = [*ROWS[:4], ("train", "owl", "images/owl/2.jpg")]
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32), rows=rows)
    text = _fault(tmp_path)
    assert "samples.csv:6" in text and "class 'owl' in split 'train' is not a seen class" in text


def test_unknown_class_in_samples(tmp_path):
    rows = [*ROWS[:4], ("train", "eel", "x.jpg")]
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32), rows=rows)
    assert "samples.csv:6" in _fault(tmp_path)


def test_broken_index(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32))
    (tmp_path / "features.json").write_text("{")
    assert "not valid JSON" in _fault(tmp_path)
    index = json.loads(index_json(_data(), 5, 3, {}, True))
    index["version"] = 99
    (tmp_path / "features.json").write_text(json.dumps(index))
    assert "version 99" in _fault(tmp_path)


def test_validation_classes_must_be_some_seen_classes(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32))
    index = json.loads((tmp_path / "features.json").read_text())
    for wrong in (["owl"], ["cat", "dog"]):
        index["validation_classes"] = wrong
        (tmp_path / "features.json").write_text(json.dumps(index))
        assert "some, not all, of the seen classes" in _fault(tmp_path)


def test_data_check_reports_a_feature_set(tmp_path):
    write_xlsa17(tmp_path)
    result = CliRunner().invoke(cli, ["data", "check", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["format"] == "xlsa17"
    assert report["features"] == {"count": 36, "dim": 5, "non_finite": 0}
    assert report["images"] == {"train": 16, "test_seen": 8, "test_unseen": 12}
    assert report["images_per_class"]["class05"] == 6
    text = CliRunner().invoke(cli, ["data", "check", str(tmp_path)]).output
    assert "feature matrix 36×5 float32" in text


def test_data_check_of_nan_features_exits_2(tmp_path):
    features = np.ones((5, 36))
    features[0, 0] = np.nan
    write_xlsa17(tmp_path, features_override=features)
    result = CliRunner().invoke(cli, ["data", "check", str(tmp_path)])
    assert result.exit_code == 2 and "non-finite" in result.output


def test_data_prepare_does_not_apply_to_features(tmp_path):
    write_folder(tmp_path, np.ones((5, 3), dtype=np.float32))
    result = CliRunner().invoke(cli, ["data", "prepare", str(tmp_path)])
    assert result.exit_code == 2 and "no images to prepare" in result.output
