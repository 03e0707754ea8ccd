"""The f-CLSWGAN comparison study: its files in the release's format, its in-memory patches of the
release, and its table from a few written records."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from benchmarks.studies import fclswgan_release
from benchmarks.studies import fclswgan_vs_authors as study
from benchmarks.studies.results import put


def _row(side: str, step: int, seed: int, zsl: float, u: float, s: float, **extra) -> dict:
    h = 2 * u * s / (u + s)
    row = {"side": side, "size": "small", "seed": seed, "step": step, "zsl_top1": zsl}
    row |= {"u": u, "s": s, "h": h, "train_cpu_seconds": 10.0 * step / 100}
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
    line = next(line for line in table.splitlines() if line.startswith("| small | 200 |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    sd = np.std([0.2, 0.4], ddof=1)
    assert cells[2] == "2"
    h_theirs, h_ours = 2 * 0.1 * 0.9 / 1.0, 2 * 0.2 * 0.8 / 1.0
    assert cells[3] == f"0.300 ± {sd:.3f} / 0.100 ± 0.000, 0.900 ± 0.000, {h_theirs:.3f} ± 0.000"
    assert cells[4] == f"0.350 ± {sd:.3f} / 0.200 ± 0.000, 0.800 ± 0.000, {h_ours:.3f} ± 0.000"
    assert cells[5] == "0.600 ± 0.000" and cells[6] == "20 / 20"
    assert f"| small | 200 | 0.400 ± {sd:.3f} / 0.500 ± 0.000" in table


def test_the_release_is_patched_in_memory_for_a_current_torch(tmp_path):
    original = "loss = f()\nmean_loss += loss.data[0]\none = torch.FloatTensor([1])\n"
    (tmp_path / "classifier2.py").write_text(original)
    patched = fclswgan_release.patched_source(tmp_path / "classifier2.py")
    assert patched == "loss = f()\nmean_loss += loss.item()\none = torch.tensor(1.0)\n"
    assert (tmp_path / "classifier2.py").read_text() == original  # the file is left alone
    with pytest.raises(SystemExit, match="lacks util.py, model.py"):
        fclswgan_release.load_release(tmp_path)


def test_the_files_are_in_the_release_format_with_100_steps_per_epoch(tmp_path, monkeypatch):
    monkeypatch.setitem(study.SIZES, "small", {"dim": 8, "hidden": 4, "lr": 1e-4})
    root = study.write_data(tmp_path, "small")
    splits = scipy.io.loadmat(str(root / "att_splits.mat"))
    features = scipy.io.loadmat(str(root / "res101.mat"))["features"]
    assert features.shape == (8, study.SET["classes"] * study.PER_CLASS)
    trainval = splits["trainval_loc"]
    assert trainval.dtype == np.uint16 and -(-trainval.size // 64) == 100
    assert splits["att"].shape == (study.SET["attributes"], study.SET["classes"])
