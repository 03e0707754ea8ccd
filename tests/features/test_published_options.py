"""f-CLSWGAN's published details as options (docs/features.md, "The published recipe"): each
checked against a formula written here, not against zsk's own code."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.features.feature_data import feature_spec, synthetic_features
from zsk.core.build.composer import compose
from zsk.core.components.dims import Dims
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.feature_scaling import scale_features
from zsk.core.data.loader import BatchStream
from zsk.core.evaluate import published_protocol as protocol
from zsk.core.evaluate.classifier import PUBLISHED, fit_softmax
from zsk.core.spec.sections import Spec
from zsk.core.train.loop import Trainer
from zsk.plugins.builtin.datasets.features import Xlsa17
from zsk.plugins.builtin.feature_losses import PretrainedClassifier
from zsk.plugins.builtin.feature_networks import ConcatCritic, FeatureGenerator, FeatureTrunk
from zsk.registry import get_registry
from zsk.testing.xlsa17 import write_xlsa17

DIMS = Dims(
    image_size=1,
    num_attributes=6,
    num_seen_classes=5,
    embedding_dim=8,
    noise_dim=6,
    feature_dim=300,
)


def test_minmax_scaling_is_fitted_on_trainval_only(tmp_path):
    tiny = write_xlsa17(tmp_path, classes=8, unseen=2, per_class=10, dim=7)
    raw = tiny.features.T  # (N, D) as stored
    trainval = tiny.variables["trainval_loc"].ravel().astype(int) - 1
    low, high = raw[trainval].min(axis=0), raw[trainval].max(axis=0)
    expected = (raw - low) / (high - low)
    data = Xlsa17(Xlsa17.Params(root=str(tmp_path), scaling="minmax")).load()
    np.testing.assert_allclose(data.features.numpy(), expected, rtol=1e-5, atol=1e-6)
    train = data.features[[s.row for s in data.train]]
    assert torch.allclose(train.min(dim=0).values, torch.zeros(7), atol=1e-6)
    assert torch.allclose(train.max(dim=0).values, torch.ones(7), atol=1e-6)
    unseen = data.features[[s.row for s in data.test_unseen]]
    assert bool((unseen < 0).any() or (unseen > 1).any())  # the test rows play no part


def test_standardising_uses_the_training_rows_mean_and_spread():
    data = synthetic_features(per_class=12)
    raw = data.features.numpy().astype(np.float64)
    rows = [s.row for s in data.train]
    mean, std = raw[rows].mean(axis=0), raw[rows].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    scaled = scale_features(data, "standardise")
    np.testing.assert_allclose(scaled.features.numpy(), (raw - mean) / std, rtol=1e-5, atol=1e-5)
    assert scale_features(data, "none") is data


def test_a_constant_training_dimension_is_shifted_not_divided():
    data = synthetic_features()
    features = data.features.clone()
    rows = torch.tensor([s.row for s in data.train])
    features[:, 0] = 0.0
    features[[s.row for s in data.test_unseen], 0] = 2.0  # fires only on test rows
    data.features = features
    scaled = scale_features(data, "minmax").features
    assert bool((scaled[rows, 0] == 0).all()) and float(scaled[:, 0].max()) == 2.0


def _linears(module: torch.nn.Module) -> list[torch.nn.Linear]:
    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("network", ["generator", "trunk", "critic"])
def test_the_published_initialisation_draws_n0_002_weights_and_zero_biases(network):
    torch.manual_seed(0)
    hidden = [400]
    made = {
        "generator": lambda init: FeatureGenerator(
            FeatureGenerator.Params(hidden=hidden, init=init), dims=DIMS
        ),
        "trunk": lambda init: FeatureTrunk(
            FeatureTrunk.Params(hidden=hidden, init=init), dims=DIMS
        ),
        "critic": lambda init: ConcatCritic(
            ConcatCritic.Params(hidden=hidden, init=init), dims=DIMS, in_shape=(300, 1, 1)
        ),
    }[network]
    for layer in _linears(made("normal")):
        weights = layer.weight.detach().double()
        # the mean of n draws of N(0, 0.02) is within 5 standard errors of 0
        assert abs(float(weights.mean())) < 5 * 0.02 / weights.numel() ** 0.5
        assert float(weights.std()) == pytest.approx(0.02, rel=0.05)
        assert bool((layer.bias == 0).all())
    first = _linears(made("torch"))[0]  # torch's own: uniform within 1/sqrt(fan_in)
    bound = 1 / first.in_features**0.5
    weight, bias = first.weight.detach(), first.bias.detach()
    assert float(weight.abs().max()) <= bound and float(bias.abs().max()) > 0


def test_the_published_regulariser_classifier_reads_the_features_as_given():
    data = synthetic_features(per_class=12)
    dims = Dims(
        image_size=1,
        num_attributes=6,
        num_seen_classes=len(data.seen),
        embedding_dim=8,
        noise_dim=6,
        feature_dim=data.feature_dim,
    )
    rows = [s.row for s in data.train]
    real, labels = data.features[rows], torch.tensor([s.label for s in data.train])
    loss = PretrainedClassifier(PretrainedClassifier.Params(classifier="published"), dims=dims)
    loss.prepare(real, labels)
    assert bool((loss.mean == 0).all()) and bool((loss.scale == 1).all())
    logits = loss.logits(real)
    expected = real @ loss.weight.T + loss.bias  # a linear layer on the raw features
    assert torch.allclose(logits, expected, atol=1e-5)
    zsk = PretrainedClassifier(PretrainedClassifier.Params(), dims=dims)
    zsk.prepare(real, labels)
    assert torch.allclose(zsk.mean, real.mean(dim=0), atol=1e-5)


def test_the_published_classifiers_train_on_what_the_release_trains_them_on(monkeypatch):
    data = synthetic_features(per_class=12)
    made = compose(Spec.model_validate(feature_spec(), context={"registry": get_registry()}), data)
    gan = made.gan.eval()
    rows = lambda split: [s.row for s in getattr(data, split)]  # noqa: E731
    labels = lambda split: torch.tensor([s.label for s in getattr(data, split)])  # noqa: E731
    train = LabelledImages(data.features[rows("train")], labels("train"))
    test = LabelledImages(
        data.features[rows("test_seen") + rows("test_unseen")],
        torch.cat([labels("test_seen"), labels("test_unseen")]),
    )
    fits, fitted = [], []

    def recording(features, labels, classes, device, seed, epochs, recipe):
        fits.append((features.clone(), labels.clone(), list(classes), epochs, recipe))
        fitted.append(fit_softmax(features, labels, classes, device, seed, epochs, recipe))
        return fitted[-1]

    monkeypatch.setattr(protocol, "fit_softmax", recording)
    result = protocol.published_protocol(gan, data, train, test, torch.device("cpu"), 0, 7)
    (zsl_x, zsl_y, zsl_classes, epochs, recipe), (gzsl_x, gzsl_y, gzsl_classes, *_) = fits
    assert zsl_classes == data.unseen and epochs == 25
    assert recipe == replace(PUBLISHED, batch=7)  # batches of the number generated per class
    assert zsl_y.tolist() == [c for c in data.unseen for _ in range(7)]
    assert zsl_x.shape == (7 * len(data.unseen), data.feature_dim)
    assert gzsl_classes == sorted(data.seen + data.unseen)
    n = len(train)
    assert torch.equal(gzsl_x[:n], train.images) and torch.equal(gzsl_y[:n], train.labels)
    assert torch.equal(gzsl_x[n:], zsl_x) and torch.equal(gzsl_y[n:], zsl_y)  # generated unseen
    # u and s as the release computes them: the GZSL classifier's arg-max over all classes,
    # each class's accuracy, averaged over the unseen (u) and over the seen (s) test classes
    predicted = fitted[1].linear(test.images).argmax(dim=1)
    predicted = torch.tensor(gzsl_classes)[predicted]

    def mean_accuracy(classes):
        return sum(float((predicted[test.labels == c] == c).float().mean()) for c in classes) / len(
            classes
        )

    u, s = mean_accuracy(data.unseen), mean_accuracy(data.seen)
    assert result.gzsl.u == pytest.approx(u) and result.gzsl.s == pytest.approx(s)
    assert result.gzsl.h == pytest.approx(2 * u * s / (u + s) if u + s else 0.0)
    assert result.gzsl.calibration is None  # the release calibrates nothing
    unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    zsl_predicted = torch.tensor(data.unseen)[fitted[0].linear(test.images[unseen]).argmax(1)]
    per_class = [
        float((zsl_predicted[test.labels[unseen] == c] == c).float().mean()) for c in data.unseen
    ]
    assert result.zsl_top1 == pytest.approx(sum(per_class) / len(per_class))


def _indices(stream: BatchStream, count: int) -> list[list[int]]:
    batches, iterator = [], iter(stream)
    while len(batches) < count:
        try:
            batches.append(next(iterator)[1].tolist())
        except StopIteration:
            iterator = iter(stream)
    return batches


def test_random_batches_are_drawn_afresh_and_resume_where_they_left_off():
    count, size = 10, 4
    rows = torch.arange(count, dtype=torch.float32)[:, None]
    stream = BatchStream(rows, torch.arange(count), size, seed=3, sampling="random")
    assert len(stream) == count // size  # an epoch has as many batches as a permutation's
    batches = _indices(stream, 40)
    assert all(len(set(b)) == size for b in batches)  # distinct within a batch
    epochs = [batches[i] + batches[i + 1] for i in range(0, 40, 2)]
    # a permutation never repeats an image within an epoch; random batches do (P = 14/15 each)
    assert any(len(set(epoch)) < 2 * size for epoch in epochs)
    assert set().union(*map(set, batches)) == set(range(count))
    again = BatchStream(rows, torch.arange(count), size, seed=3, sampling="random")
    again.load_state_dict({"epoch": 4, "position": 1})
    assert _indices(again, 3) == batches[9:12]  # epoch 4's second batch, then epoch 5's


def _generator_noise(made, sampling: str, tmp_path) -> list[torch.Tensor]:
    """The noise of every generator forward pass in one training step."""
    seen = []
    generator = made.gan.generator
    original = generator.forward

    def recording(attributes, images=None, noise=None):
        seen.append(noise.clone())
        return original(attributes, images=images, noise=noise)

    generator.forward = recording
    Trainer(made, tmp_path / sampling, steps=1, device="cpu").fit()
    return seen


@pytest.mark.parametrize("choice", ["shared", "fresh"])
def test_the_generator_step_draws_fresh_noise_when_asked(choice, tmp_path):
    spec = feature_spec(n_critic=3, steps=1, generator_noise=choice)
    made = compose(
        Spec.model_validate(spec, context={"registry": get_registry()}), synthetic_features()
    )
    noise = _generator_noise(made, choice, tmp_path)
    if choice == "shared":  # the last critic step's fakes serve the generator step
        assert len(noise) == 3
    else:  # a fourth forward pass, same batch size, new noise
        assert len(noise) == 4 and noise[3].shape == noise[2].shape
        assert not torch.equal(noise[3], noise[2])
