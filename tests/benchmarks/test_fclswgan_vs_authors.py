"""The f-CLSWGAN comparison study: its files in the release's format, its in-memory patches of the
release, and its table from a few written records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from benchmarks.studies import fclswgan_release
from benchmarks.studies import fclswgan_vs_authors as study
from benchmarks.studies.results import put, read
from zsk.plugins.builtin.datasets.features import Xlsa17
from zsk.testing.features import synthetic_features


def _row(side: str, step: int, seed: int, zsl: float, u: float, s: float, **extra) -> dict:
    h = 2 * u * s / (u + s)
    row = {"side": side, "dataset": "awa2", "size": "small", "seed": seed, "step": step}
    row |= {"zsl_top1": zsl, "u": u, "s": s, "h": h, "train_cpu_seconds": 10.0 * step / 100}
    row |= {"eval_cpu_seconds": 3.0 if side == "zsk" else 1.0}
    return row | extra


def test_the_table_holds_each_sides_mean_and_spread_at_each_step(tmp_path):
    rows = []
    for seed, zsl in enumerate((0.2, 0.4)):
        best = {"zsl_top1": zsl + 0.1, "u": 0.5, "s": 0.5, "h": 0.5}
        rows.append(_row("authors", 200, seed, zsl, 0.1, 0.9, best_on_test=best))
        rows.append(_row("zsk", 200, seed, zsl + 0.05, 0.2, 0.8, calibrated={"h": 0.6}))
    path = tmp_path / "results.jsonl"
    for row in rows:
        put(path, row, study.KEY)
    table = study.table(path)
    line = next(line for line in table.splitlines() if line.startswith("| awa2 | small | 200 |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    sd = np.std([0.2, 0.4], ddof=1)
    assert cells[3] == "2"
    h_theirs, h_ours = 2 * 0.1 * 0.9 / 1.0, 2 * 0.2 * 0.8 / 1.0
    assert cells[4] == f"0.300 ± {sd:.3f} / 0.100 ± 0.000, 0.900 ± 0.000, {h_theirs:.3f} ± 0.000"
    assert cells[5] == f"0.350 ± {sd:.3f} / 0.200 ± 0.000, 0.800 ± 0.000, {h_ours:.3f} ± 0.000"
    assert cells[6] == "0.600 ± 0.000" and cells[7] == "20 / 20" and cells[8] == "1 / 3"
    assert f"| awa2 | small | 200 | 0.400 ± {sd:.3f} / 0.500 ± 0.000" in table


def test_the_release_is_patched_in_memory_for_a_current_torch(tmp_path):
    original = "loss = f()\nmean_loss += loss.data[0]\none = torch.FloatTensor([1])\n"
    (tmp_path / "classifier2.py").write_text(original)
    patched = fclswgan_release.patched_source(tmp_path / "classifier2.py")
    assert patched == "loss = f()\nmean_loss += loss.item()\none = torch.tensor(1.0)\n"
    assert (tmp_path / "classifier2.py").read_text() == original  # the file is left alone
    with pytest.raises(SystemExit, match="lacks util.py, model.py"):
        fclswgan_release.load_release(tmp_path)


def test_the_releases_epoch_is_set_to_the_steps_asked_for(tmp_path):
    source = "for i in range(0, data.ntrain, opt.batch_size):\n    steps.append(i)\n"
    patched = fclswgan_release.with_epoch_steps(source, 7)
    run = {"steps": [], "data": _Namespace(ntrain=19_200), "opt": _Namespace(batch_size=64)}
    exec(source, dict(run, steps=(unpatched := [])))
    exec(patched, run)
    assert len(unpatched) == 19_200 // 64 and len(run["steps"]) == 7
    with pytest.raises(SystemExit, match="no single"):
        fclswgan_release.with_epoch_steps("for epoch in range(2):\n    pass\n", 7)


class _Namespace:
    def __init__(self, **values):
        self.__dict__.update(values)


def test_the_40_class_files_are_in_the_release_format_with_100_steps_per_epoch(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(study.SIZES, "small", {"dim": 8, "hidden": 4, "lr": 1e-4})
    root = study.write_data(tmp_path, "syn40", "small")
    splits = scipy.io.loadmat(str(root / "att_splits.mat"))
    features = scipy.io.loadmat(str(root / "res101.mat"))["features"]
    assert features.shape == (8, 40 * 265)
    trainval = splits["trainval_loc"]
    assert trainval.dtype == np.uint16 and -(-trainval.size // 64) == 100
    assert splits["att"].shape == (48, 40)


def test_the_awa2_sized_set_reads_back_through_zsks_reader(tmp_path, monkeypatch):
    """AwA2's sizes (50 classes, 40 seen of which 13 validation classes, 10 unseen, 85
    attributes, 600 features per class, a fifth of each seen class's held out as seen test
    features), and the features and attributes of zsk.testing.features' set, unchanged."""
    monkeypatch.setitem(study.SIZES, "small", {"dim": 8, "hidden": 4, "lr": 1e-4})
    root = study.write_data(tmp_path, "awa2", "small")
    data = Xlsa17(Xlsa17.Params(root=str(root))).load()
    assert len(data.classes) == 50 and data.attributes.shape == (50, 85)
    assert data.seen == list(range(40)) and data.unseen == list(range(40, 50))
    assert data.validation_classes == list(range(27, 40))
    assert (len(data.train), len(data.test_seen), len(data.test_unseen)) == (
        40 * 480,
        40 * 120,
        10 * 600,
    )
    expected = synthetic_features(
        classes=50, unseen=10, attributes=85, feature_dim=8, per_class=600, noise=4.5, offset=0.6
    )
    assert data.features.shape == (30_000, 8)
    assert torch.allclose(data.features, expected.features)
    assert torch.allclose(data.attributes, expected.attributes)
    labels = [sample.label for sample in data.train + data.test_seen + data.test_unseen]
    assert sorted(labels) == np.repeat(np.arange(50), 600).tolist()
    splits = scipy.io.loadmat(str(root / "att_splits.mat"))
    assert splits["trainval_loc"].dtype == np.uint16


def test_the_releases_command_line_names_the_sets_sizes_and_files(tmp_path):
    argv = study.authors_arguments(tmp_path, "awa2", "full", 2, [200, 500])
    options = dict(a.removeprefix("--").split("=", 1) for a in argv if "=" in a)
    assert options["attSize"] == options["nz"] == "85" and options["nclass_all"] == "50"
    assert options["resSize"] == "2048" and options["ngh"] == options["ndh"] == "4096"
    assert options["manualSeed"] == "3" and options["nepoch"] == "5"
    folder = Path(options["dataroot"]) / options["dataset"]
    assert folder == study.data_folder(tmp_path, "awa2", "full").resolve()


def test_the_clean_40_class_set_is_syn40_with_features_fixed_by_the_attributes(
    tmp_path, monkeypatch
):
    """syn40clean: syn40's classes, attributes and splits; no class offset and a within-class
    spread of 0.05, so each class's features sit close to relu(t_c M), scaled."""
    monkeypatch.setitem(study.SIZES, "small", {"dim": 8, "hidden": 4, "lr": 1e-4})
    root = study.write_data(tmp_path, "syn40clean", "small")
    data = Xlsa17(Xlsa17.Params(root=str(root))).load()
    syn40 = Xlsa17(Xlsa17.Params(root=str(study.write_data(tmp_path, "syn40", "small")))).load()
    assert data.attributes.shape == (40, 48) and torch.equal(data.attributes, syn40.attributes)
    assert [len(getattr(data, k)) for k in ("train", "test_seen", "test_unseen")] == [
        len(getattr(syn40, k)) for k in ("train", "test_seen", "test_unseen")
    ]
    generator = torch.Generator().manual_seed(0)
    table = torch.nn.functional.normalize(torch.rand(40, 48, generator=generator))
    mixing = torch.randn(48, 8, generator=generator)
    means = torch.relu(table @ mixing).repeat_interleave(265, dim=0)
    positive = means > 0.3  # where relu does not cut the spread
    x, y = means[positive], data.features[positive]
    scale = float((x * y).sum() / (x * x).sum())
    assert scale == pytest.approx(0.5 / float(means.mean()), rel=0.02)
    assert float((y - scale * x).std()) == pytest.approx(0.05 * scale, rel=0.1)


def test_rows_without_the_calibrated_headline_say_so(tmp_path):
    path = tmp_path / "results.jsonl"
    best = {"zsl_top1": 0.3, "u": 0.1, "s": 0.9, "h": 0.18}
    put(path, _row("authors", 200, 0, 0.3, 0.1, 0.9, best_on_test=best), study.KEY)
    put(path, _row("zsk", 200, 0, 0.3, 0.1, 0.9), study.KEY)
    line = next(line for line in study.table(path).splitlines() if "| 200 |" in line)
    assert line.split("|")[7].strip() == "not measured"


def test_zsks_side_without_the_calibrated_headline_trains_no_validation_run_and_resumes(
    tmp_path, monkeypatch
):
    """--no-calibrated: the run alone, its newest checkpoint evaluated by the release's protocol
    (routes.published_protocol); a second call goes on from the last recorded step count."""
    from zsk.core.components.metric_inputs import LabelledImages
    from zsk.core.data.loader import load_split_images
    from zsk.core.evaluate.published_protocol import published_protocol
    from zsk.core.evaluate.trained import load_trained
    from zsk.core.rundir.validation_run import companion
    from zsk.core.train.checkpoint import find_latest

    monkeypatch.setitem(study.SIZES, "small", {"dim": 8, "hidden": 4, "lr": 1e-4})
    study.write_data(tmp_path, "syn40clean", "small")
    study.zsk_side(tmp_path, "syn40clean", "small", [0], [2, 4], calibrated=False)
    run_dir = tmp_path / "zsk" / "syn40clean-small-seed0"
    rows = read(tmp_path / "results.jsonl")
    assert [r["step"] for r in rows] == [2, 4] and find_latest(companion(run_dir)) is None
    assert all("calibrated" not in r and "validation_train_cpu_seconds" not in r for r in rows)
    assert 0 < rows[0]["train_cpu_seconds"] < rows[1]["train_cpu_seconds"]
    trained = load_trained(run_dir)  # the step-4 checkpoint, loaded afresh
    assert trained.step == 4
    splits = [
        LabelledImages(*load_split_images(trained.build.data, split, 0))
        for split in ("train", "test_seen", "test_unseen")
    ]
    torch.manual_seed(0)  # the generator's noise, as the driver seeds it
    cpu = torch.device("cpu")
    published = published_protocol(
        trained.build.gan.eval(), trained.build.data, splits[0], splits[1] + splits[2], cpu, 0
    )
    assert rows[1]["zsl_top1"] == published.zsl_top1
    assert (rows[1]["u"], rows[1]["s"], rows[1]["h"]) == tuple(
        getattr(published.gzsl, k) for k in ("u", "s", "h")
    )
    study.zsk_side(tmp_path, "syn40clean", "small", [0], [2, 4, 6], calibrated=False)
    rows = read(tmp_path / "results.jsonl")
    assert [r["step"] for r in rows] == [2, 4, 6] and load_trained(run_dir).step == 6
    assert rows[2]["train_cpu_seconds"] > rows[1]["train_cpu_seconds"]
