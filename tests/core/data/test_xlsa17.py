"""The xlsa17 benchmark files: read in their exact format, every fault refused with file and fix."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from zsk.core.data.folder_formats import load_folder
from zsk.core.data.holdout import apply_holdout
from zsk.plugins.builtin.datasets.features import Xlsa17
from zsk.registry import UserError
from zsk.testing.xlsa17 import mat_cells, write_mat73, write_xlsa17


def _load(root: Path, **params):
    return Xlsa17(Xlsa17.Params(root=str(root), **params)).load()


def test_proposed_split_rows_labels_and_attributes_match_the_files(tmp_path):
    tiny = write_xlsa17(tmp_path)
    name, data = load_folder(tmp_path)
    assert name == "xlsa17" and data.is_features
    assert data.features.dtype == torch.float32 and data.feature_dim == 5
    np.testing.assert_allclose(data.features.numpy(), tiny.features.T, rtol=1e-6)
    att = tiny.variables["att"]
    np.testing.assert_allclose(data.attributes.numpy(), att.T, rtol=1e-6)
    assert data.classes == tiny.classes
    assert (data.seen, data.unseen) == (tiny.seen, tiny.unseen)
    for split, loc in (("train", "trainval_loc"), ("test_seen", "test_seen_loc")):
        rows = [s.row for s in getattr(data, split)]
        assert rows == (tiny.variables[loc].ravel().astype(int) - 1).tolist()
    for sample in data.train + data.test_seen + data.test_unseen:
        assert sample.label == int(tiny.labels[sample.row]) - 1
    assert data.validation_classes == tiny.validation


def test_validation_split_trains_on_train_loc_and_tests_on_val_loc(tmp_path):
    tiny = write_xlsa17(tmp_path, per_class=8)
    data = _load(tmp_path, split="validation", seen_test_fraction=0.25)
    train_loc = set(tiny.variables["train_loc"].ravel().astype(int) - 1)
    val_loc = (tiny.variables["val_loc"].ravel().astype(int) - 1).tolist()
    assert data.unseen == tiny.validation
    assert data.seen == [c for c in tiny.seen if c not in tiny.validation]
    assert [s.row for s in data.test_unseen] == val_loc
    train, held = {s.row for s in data.train}, {s.row for s in data.test_seen}
    assert train | held == train_loc and not train & held
    for cls in data.seen:  # 6 train_loc samples per class, a quarter held out: round(1.5) = 2
        assert sum(s.label == cls for s in data.test_seen) == 2
    assert data.validation_classes is None


def test_validation_split_choice_is_deterministic_and_seeded(tmp_path):
    write_xlsa17(tmp_path, per_class=10)

    def rows(seed: int) -> list[int]:
        return [s.row for s in _load(tmp_path, split="validation", split_seed=seed).test_seen]

    assert rows(0) == rows(0)
    assert rows(0) != rows(1)


def test_a_validation_run_holds_out_the_benchmarks_validation_classes(tmp_path):
    tiny = write_xlsa17(tmp_path)
    data = _load(tmp_path)
    run = apply_holdout(data, None, 0.25, seed=0)
    assert run.holdout.classes == tiny.validation
    val_loc = sorted(tiny.variables["val_loc"].ravel().astype(int) - 1)
    assert sorted(s.row for s in run.holdout.unseen_images) == val_loc
    assert run.seen == [c for c in tiny.seen if c not in tiny.validation]
    assert run.features is data.features


def test_v73_file_is_read_with_h5py_to_the_same_data(tmp_path):
    pytest.importorskip("h5py")
    tiny = write_xlsa17(tmp_path / "v5")
    v5 = _load(tmp_path / "v5")
    folder = tmp_path / "v73"
    folder.mkdir()
    write_mat73(folder / "att_splits.mat", tiny.variables)
    write_mat73(
        folder / "res101.mat",
        {"features": tiny.features, "labels": tiny.labels.reshape(-1, 1)},
    )
    v73 = _load(folder)
    assert v73.classes == v5.classes and (v73.seen, v73.unseen) == (v5.seen, v5.unseen)
    assert torch.equal(v73.features, v5.features)
    assert torch.equal(v73.attributes, v5.attributes)
    assert v73.train == v5.train and v73.test_unseen == v5.test_unseen


def test_v73_file_without_h5py_names_the_file_and_the_extra(tmp_path, monkeypatch):
    write_xlsa17(tmp_path)
    (tmp_path / "res101.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(600))
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(UserError) as error:
        _load(tmp_path)
    text = error.value.render()
    assert "res101.mat" in text and "v7.3" in text and "pip install zsk-toolkit[mat73]" in text


def _fault(tmp_path, **kwargs) -> str:
    write_xlsa17(tmp_path, **kwargs)
    with pytest.raises(UserError) as error:
        _load(tmp_path)
    return error.value.render()


@pytest.mark.parametrize("missing", ["res101.mat", "att_splits.mat"])
def test_missing_file_is_named(tmp_path, missing):
    write_xlsa17(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(UserError) as error:
        _load(tmp_path)
    assert missing in error.value.render() and "not found" in error.value.render()


def test_feature_label_count_mismatch(tmp_path):
    features = np.random.default_rng(0).random((5, 35))
    text = _fault(tmp_path, features_override=features)
    assert "res101.mat" in text and "36 entries" in text and "35 columns" in text


def test_features_stored_transposed_get_a_hint(tmp_path):
    features = np.random.default_rng(0).random((36, 5))
    assert "N×D instead of D×N" in _fault(tmp_path, features_override=features)


def test_nan_feature_names_sample_and_dimension(tmp_path):
    features = np.random.default_rng(0).random((5, 36))
    features[2, 7] = np.nan
    text = _fault(tmp_path, features_override=features)
    assert "sample 8, dimension 3" in text and "res101.mat" in text


def test_feature_beyond_float32_is_refused(tmp_path):
    features = np.random.default_rng(0).random((5, 36))
    features[4, 0] = 1e300  # finite as stored (float64), infinite as float32
    assert "sample 1, dimension 5" in _fault(tmp_path, features_override=features)


@pytest.mark.parametrize("bad", [0, 37])
def test_index_out_of_range(tmp_path, bad):
    loc = np.array([[1], [2], [bad]], dtype=np.float64)
    text = _fault(tmp_path, splits_override={"test_seen_loc": loc})
    assert "att_splits.mat" in text and f"is {bad}, outside 1..36" in text and "one-based" in text


def test_non_integer_index(tmp_path):
    text = _fault(tmp_path, splits_override={"val_loc": np.array([[1.5]])})
    assert "'val_loc' entry 1 is 1.5, not a whole number" in text


def test_sample_in_two_splits(tmp_path):
    tiny = write_xlsa17(tmp_path / "probe")
    first = tiny.variables["trainval_loc"][:1]
    loc = np.vstack([tiny.variables["test_seen_loc"], first])
    text = _fault(tmp_path, splits_override={"test_seen_loc": loc})
    assert f"sample {int(first[0, 0])} is in both 'trainval_loc' and 'test_seen_loc'" in text


def test_class_in_two_splits(tmp_path):
    tiny = write_xlsa17(tmp_path / "probe")
    unseen_sample = tiny.variables["test_unseen_loc"][:1]
    test_unseen = tiny.variables["test_unseen_loc"][1:]
    trainval = np.vstack([tiny.variables["trainval_loc"], unseen_sample])
    text = _fault(
        tmp_path, splits_override={"trainval_loc": trainval, "test_unseen_loc": test_unseen}
    )
    assert "class 'class05' has samples in both 'trainval_loc' and 'test_unseen_loc'" in text


def test_validation_class_in_train_loc_too(tmp_path):
    tiny = write_xlsa17(tmp_path / "probe")
    train = np.vstack([tiny.variables["train_loc"], tiny.variables["val_loc"][:1]])
    text = _fault(tmp_path, splits_override={"train_loc": train})
    assert "both 'train_loc' and 'val_loc'" in text


def test_validation_classes_outside_trainval(tmp_path):
    tiny = write_xlsa17(tmp_path / "probe")
    val = np.vstack([tiny.variables["val_loc"], tiny.variables["test_unseen_loc"][:1]])
    text = _fault(tmp_path, splits_override={"val_loc": val})
    assert "holds samples of 'class05', a class with no sample in 'trainval_loc'" in text


def test_class_names_must_match_attribute_columns(tmp_path):
    names = mat_cells(["a", "b", "c"])
    text = _fault(tmp_path, splits_override={"allclasses_names": names})
    assert "'allclasses_names' lists 3 classes but 'att' has 6 columns" in text


def test_missing_variable(tmp_path):
    text = _fault(tmp_path, splits_override={"test_unseen_loc": None})
    assert "has no variable 'test_unseen_loc'" in text and "att_splits.mat" in text


def test_label_out_of_range(tmp_path):
    tiny = write_xlsa17(tmp_path)
    labels = tiny.labels.copy()
    labels[3] = 7
    scipy.io.savemat(
        tmp_path / "res101.mat", {"features": tiny.features, "labels": labels.reshape(-1, 1)}
    )
    with pytest.raises(UserError) as error:
        _load(tmp_path)
    assert "'labels' entry 4 is 7, outside 1..6" in error.value.render()


def test_not_a_mat_file(tmp_path):
    write_xlsa17(tmp_path)
    (tmp_path / "att_splits.mat").write_text("hello")
    with pytest.raises(UserError) as error:
        _load(tmp_path)
    assert "att_splits.mat" in error.value.render()


def test_validation_split_without_train_and_val_loc(tmp_path):
    write_xlsa17(tmp_path, splits_override={"train_loc": None, "val_loc": None})
    assert _load(tmp_path).validation_classes is None
    with pytest.raises(UserError) as error:
        _load(tmp_path, split="validation")
    assert "train_loc" in error.value.render()
