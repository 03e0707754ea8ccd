"""The shared synthetic feature set (zsk.testing.features): its split and its two knobs."""

from __future__ import annotations

import torch

from zsk.testing.features import MEAN_VALUE, synthetic_features

SIZES = {"classes": 30, "unseen": 10, "attributes": 8, "feature_dim": 64, "per_class": 10}


def _rows(data, samples) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.tensor([s.row for s in samples])
    return data.features[rows].double(), torch.tensor([s.label for s in samples])


def ridge_zsl(data) -> float:
    """Ridge from seen-class features to attributes, unseen classes by cosine: ZSL top-1."""
    x, y = _rows(data, data.train)
    t = data.attributes[y].double()
    mx, mt = x.mean(0), t.mean(0)
    gram = (x - mx).T @ (x - mx) + 0.01 * len(x) * torch.eye(x.shape[1], dtype=torch.float64)
    weights = torch.linalg.solve(gram, (x - mx).T @ (t - mt))
    x, y = _rows(data, data.test_unseen)
    predicted = torch.nn.functional.normalize((x - mx) @ weights + mt, dim=1)
    classes = torch.nn.functional.normalize(data.attributes[data.unseen].double(), dim=1)
    guess = torch.tensor(data.unseen)[(predicted @ classes.T).argmax(1)]
    return float((guess == y).double().mean())


def nearest_mean_accuracy(data) -> float:
    """Seen test samples by the nearest training mean of a seen class."""
    x, y = _rows(data, data.train)
    means = torch.stack([x[y == c].mean(0) for c in data.seen])
    x, y = _rows(data, data.test_seen)
    guess = torch.tensor(data.seen)[torch.cdist(x, means).argmin(1)]
    return float((guess == y).double().mean())


def test_the_split_the_validation_classes_and_the_scale():
    data = synthetic_features(classes=10, unseen=2, validation=3, per_class=10, test_share=0.2)
    assert (len(data.train), len(data.test_seen), len(data.test_unseen)) == (64, 16, 20)
    assert data.seen == list(range(8)) and data.unseen == [8, 9]
    assert data.validation_classes == [5, 6, 7]  # the last seen classes, as val_loc's
    for sample in data.train + data.test_seen + data.test_unseen:
        assert sample.label == sample.row // 10
    assert {s.label for s in data.test_seen} == set(data.seen)
    assert data.features.shape == (100, 12) and float(data.features.min()) >= 0
    assert abs(float(data.features.mean()) - MEAN_VALUE) < 1e-5
    assert torch.allclose(data.attributes.norm(dim=1), torch.ones(10))  # unit rows, as att
    assert synthetic_features().validation_classes is None


def test_a_seed_gives_one_set():
    same = synthetic_features(seed=3, offset=1.0), synthetic_features(seed=3, offset=1.0)
    assert torch.equal(same[0].features, same[1].features)
    assert torch.equal(same[0].attributes, same[1].attributes)
    assert not torch.equal(same[0].features, synthetic_features(seed=4, offset=1.0).features)


def test_the_offset_is_what_the_attributes_do_not_explain():
    def mean_zsl(offset: float) -> float:
        sets = [synthetic_features(**SIZES, noise=0.1, offset=offset, seed=s) for s in range(3)]
        return sum(ridge_zsl(data) for data in sets) / 3

    assert mean_zsl(0.0) > 0.95  # the attributes say everything: zero-shot is easy
    assert mean_zsl(1.0) < 0.75
    assert mean_zsl(2.0) < mean_zsl(1.0) - 0.1


def test_the_noise_sets_how_separable_the_seen_classes_are():
    def accuracy(noise: float) -> float:
        sets = [synthetic_features(**SIZES, noise=noise, seed=s) for s in range(3)]
        return sum(nearest_mean_accuracy(data) for data in sets) / 3

    assert accuracy(0.1) > 0.95
    assert accuracy(1.0) < 0.7
    assert accuracy(2.0) < accuracy(1.0) - 0.1
