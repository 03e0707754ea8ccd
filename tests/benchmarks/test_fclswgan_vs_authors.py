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
    (routes.published_protocol) on EVAL_DRAWS draws; a second call goes on from the last
    recorded step count, and evaluates again a recorded row of another number of draws."""
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
    cpu, draws, gan = torch.device("cpu"), [], trained.build.gan.eval()
    for draw in range(study.EVAL_DRAWS):  # seed 0's draws: seeds 0, 1, ... as the driver's
        torch.manual_seed(draw)
        published = published_protocol(
            gan, trained.build.data, splits[0], splits[1] + splits[2], cpu, draw
        )
        draws.append([published.zsl_top1, *(getattr(published.gzsl, k) for k in "ush")])
    means = np.mean(draws, axis=0)
    assert [rows[1][k] for k in ("zsl_top1", "u", "s", "h")] == pytest.approx(means, abs=1e-12)
    assert rows[1]["eval_draws"] == study.EVAL_DRAWS
    put(tmp_path / "results.jsonl", rows[1] | {"zsl_top1": -1.0, "eval_draws": 1}, study.KEY)
    study.zsk_side(tmp_path, "syn40clean", "small", [0], [2, 4, 6], calibrated=False)
    rows = read(tmp_path / "results.jsonl")
    assert [r["step"] for r in rows] == [2, 4, 6] and load_trained(run_dir).step == 6
    # the step-4 row of one draw was evaluated again from its checkpoint; its training kept
    assert rows[1]["zsl_top1"] == pytest.approx(means[0], abs=1e-12)
    assert rows[1]["eval_draws"] == study.EVAL_DRAWS
    assert rows[2]["train_cpu_seconds"] > rows[1]["train_cpu_seconds"]


class _FakeClassifier:
    """The release's classifier2.CLASSIFIER's shape: it evaluates twice while it trains (seen
    then unseen for GZSL) and keeps the best; each number is the mean of its training features
    (plus the epoch), so a draw's numbers say which features it was trained on."""

    def __init__(self, x, y, data, nclass, cuda, lr, beta1, nepoch, batch, generalized):
        self.x, self.ntrain = x, data.ntrain
        if generalized:
            for epoch in range(2):
                self.acc_seen, self.acc_unseen = self.val_gzsl(epoch, 0), self.val_gzsl(epoch, 1)
            self.H = 2 * self.acc_seen * self.acc_unseen / (self.acc_seen + self.acc_unseen)
        else:
            self.acc = max(self.val(epoch) for epoch in range(2))

    def val(self, epoch):
        return float(self.x.mean()) + epoch

    def val_gzsl(self, epoch, unseen):
        part = self.x[self.ntrain :] if unseen else self.x[: self.ntrain]
        return float(part.mean()) + epoch


def test_each_evaluation_of_the_release_averages_its_draws_of_generated_features():
    """--eval-draws 3: the first draw on the features the release generated, the others on
    features its own generate_syn_feature draws again (real seen features kept); the point's
    numbers are each draw's mean."""
    modules = {
        "classifier2": _Namespace(CLASSIFIER=_FakeClassifier),
        "util": _Namespace(map_label=lambda labels, classes: labels - 2),
    }
    recorder = fclswgan_release.Recorder(modules, {1}, 100, draws=3)
    fills = iter([5.0, 7.0])

    def generate(net, classes, attribute, num):
        return torch.full((num * 2, 1), next(fills)), torch.tensor([2, 3] * num)

    recorder.release.update(opt=_Namespace(syn_num=2), netG=None, generate_syn_feature=generate)
    data = _Namespace(ntrain=4, unseenclasses=torch.tensor([2, 3]), attribute=None)
    real, fake = torch.ones(4, 1), torch.full((4, 1), 3.0)
    labels = torch.tensor([0, 1, 0, 1, 2, 3, 2, 3])
    recorder(torch.cat([real, fake]), labels, data, 4, False, 1e-3, 0.5, 25, 2, True)
    point = recorder.points[0]
    assert [d["gzsl"]["last"]["u"] for d in point["draws"]] == [4.0, 6.0, 8.0]
    assert [d["gzsl"]["last"]["s"] for d in point["draws"]] == [2.0, 2.0, 2.0]
    assert [d["zsl"]["last"] for d in point["draws"]] == [4.0, 6.0, 8.0]
    hs = [2 * 2.0 * u / (2.0 + u) for u in (4.0, 6.0, 8.0)]
    assert point["gzsl"]["last"]["h"] == pytest.approx(sum(hs) / 3)
    assert point["zsl"] == {"best": pytest.approx(6.0), "last": pytest.approx(6.0)}
    assert point["generator_steps"] == 100
