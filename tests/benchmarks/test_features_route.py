"""The feature-route driver's own parts: the ridge baseline's solution and the results table."""

from __future__ import annotations

import statistics

import torch

from benchmarks.studies import features_route
from benchmarks.studies.results import put


def test_ridge_solves_the_regularised_least_squares_problem():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(40, 6, generator=generator)
    targets = torch.rand(40, 3, generator=generator)
    lam = 0.5
    predict = features_route._ridge(x, targets, lam)
    # independently: least squares on the centred data stacked over sqrt(λ s)·I
    xc, tc = (x - x.mean(0)).double(), (targets - targets.mean(0)).double()
    scale = float((xc**2).sum(1).mean())
    stacked_x = torch.cat([xc, (lam * scale) ** 0.5 * torch.eye(6, dtype=torch.float64)])
    stacked_t = torch.cat([tc, torch.zeros(6, 3, dtype=torch.float64)])
    weights = torch.linalg.lstsq(stacked_x, stacked_t).solution
    expected = torch.nn.functional.normalize((xc @ weights + targets.mean(0).double()).float())
    assert torch.allclose(predict(x), expected, atol=1e-5)


def _record(name: str, seed: int, value: float) -> dict:
    scored = {"zsl_top1": value, "gzsl": {"h": value / 2}}
    return {
        "set": name,
        "seed": seed,
        "image": {
            "train_cpu_seconds": 10.0,
            "eval_cpu_seconds": 5.0,
            "eval": {"generative": scored, "zsl_top1": value, "gzsl": {"h": value / 2}},
        },
        "features": {
            "train_cpu_seconds": 20.0,
            "eval_cpu_seconds": 4.0,
            "eval": {"generative": scored},
        },
        "ridge": {**scored, "cpu_seconds": 0.5},
    }


def test_the_table_gives_mean_and_sample_spread_over_seeds(tmp_path):
    results = tmp_path / "results.jsonl"
    values = [0.2, 0.5, 0.8]
    for seed, value in enumerate(values):
        put(results, _record("s", seed, value), ("set", "seed"))
    text = features_route.table(results)
    mean, spread = statistics.mean(values), statistics.stdev(values)
    row = next(line for line in text.splitlines() if "feature GAN" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "s"
    assert cells[2] == f"{mean:.3f} ± {spread:.3f}"
    assert cells[3] == f"{mean / 2:.3f} ± {spread / 2:.3f}"
    assert cells[4] == "24"


def test_the_table_names_the_feature_layer_of_each_set(tmp_path):
    results = tmp_path / "results.jsonl"
    for name, layer in (("a", "embedding"), ("b", None)):
        record = _record(name, 0, 0.4) | ({"layer": layer} if layer else {})
        put(results, record, ("set", "seed"))
    rows = [line.split("|")[1:3] for line in features_route.table(results).splitlines()[2:]]
    routes = {name.strip(): [] for name, _ in rows}
    for name, route in rows:
        routes[name.strip()].append(route.strip())
    assert "feature GAN on the image run's embeddings φ(x)" in routes["a"]
    assert "ridge, embeddings φ(x) → attributes" in routes["a"]
    # records written before the layer was recorded are the trunk's
    assert "feature GAN on the image run's trunk features" in routes["b"]
