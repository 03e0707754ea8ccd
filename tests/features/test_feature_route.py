"""The feature route: features through the composer, the step, the classifier regulariser,
checkpoints and the generative evaluation, on tiny synthetic feature data."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.features.feature_data import feature_spec, synthetic_features
from zsk.core.build.composer import compose
from zsk.core.build.step import FakeImages, PhaseContext, draw_batch, evaluate_terms
from zsk.core.data.loader import BatchStream, load_split_images
from zsk.core.evaluate.inference import classifier_features, imagine
from zsk.core.spec.sections import Spec, SpecError
from zsk.core.train.checkpoint import read_checkpoint
from zsk.core.train.loop import Trainer
from zsk.plugins.builtin.feature_losses import PretrainedClassifier
from zsk.registry import UserError, get_registry
from zsk.testing.toy_step import TOY_DIMS, ToyStep


def build(spec: dict | None = None, data=None):
    spec = spec or feature_spec()
    return compose(Spec.model_validate(spec, context={"registry": get_registry()}), data)


@pytest.fixture
def data():
    return synthetic_features()


def test_the_composer_sizes_every_network_from_the_feature_data(data):
    made = build(data=data)
    assert made.dims.feature_dim == 12 and made.dims.sample_shape == (12,)
    assert made.dry_pass_result.shapes["model.generator"] == (12,)
    assert made.dry_pass_result.shapes["model.trunk"] == (12, 1, 1)  # hidden: [] passes x on
    attributes = data.attributes[:3]
    fakes = made.gan.generator(attributes)
    assert fakes.shape == (3, 12) and bool((fakes >= 0).all())  # ReLU output
    hidden = feature_spec()
    hidden["model"]["trunk"]["params"]["hidden"] = [20, 10]
    assert build(hidden, data).dry_pass_result.shapes["model.trunk"] == (10, 1, 1)


def test_a_conv_head_on_a_feature_trunk_is_told_to_use_a_1x1_kernel(data):
    spec = feature_spec()
    spec["model"]["heads"]["attribute"] = {"type": "attribute"}
    with pytest.raises(SpecError, match=r"(?s)model\.heads\.attribute.*kernel_size: 1, padding: 0"):
        build(spec, data)
    spec["model"]["heads"]["attribute"]["params"] = {"kernel_size": 1, "padding": 0}
    assert build(spec, data).dry_pass_result.shapes["model.heads.attribute"] == (6,)


def test_feature_components_refuse_an_image_data_set():
    with pytest.raises(UserError, match="works on feature vectors, but the data set holds images"):
        PretrainedClassifier(PretrainedClassifier.Params(), dims=TOY_DIMS)


def test_batches_of_features_are_the_rows_unscaled(data):
    features, labels = load_split_images(data, "train", 64)
    rows = [s.row for s in data.train]
    assert torch.equal(features, data.features[rows]) and features.dtype == torch.float32
    assert labels.tolist() == [s.label for s in data.train]
    stream = BatchStream(features, labels, 4, seed=0, shuffle=False)
    batch, batch_labels = next(iter(stream))
    assert torch.equal(batch, features[:4]) and torch.equal(batch_labels, labels[:4])


def _phase(made, phase, batch, fakes):
    ctx = PhaseContext(phase, made.gan, batch, fakes)
    return evaluate_terms(ctx, made.objective)


def test_gradients_reach_the_critic_and_through_it_the_generator(data):
    made = build(data=data)
    for _, loss in made.objective.named_losses():
        features, labels = load_split_images(data, "train", 64)
        loss.prepare(features, torch.tensor([data.seen.index(int(c)) for c in labels]))
    real = data.features[[s.row for s in data.train[:8]]]
    own = torch.arange(8) % len(data.seen)
    batch = draw_batch(real, own, data.attributes[data.seen], negative_fraction=0.0, noise_dim=6)
    fakes = FakeImages(made.gan, batch, keep_graph=True)
    d = _phase(made, "discriminator", batch, fakes)
    d.total.backward()
    critic = made.gan.discriminator.heads["real_fake"]
    # every weight matrix learns (the output bias cancels in E[D(x̂)] − E[D(x)], as in WGAN)
    weights = [p for p in critic.parameters() if p.dim() == 2]
    assert len(weights) == 2
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights)
    assert all(p.grad is None for p in made.gan.generator.parameters())  # fakes detached in D
    made.gan.zero_grad(set_to_none=True)
    g = _phase(made, "generator", batch, fakes)
    assert set(g.terms) == {"wgan_gp", "pretrained_classifier"}
    g.total.backward()
    generator = list(made.gan.generator.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator)


def test_the_classifier_regulariser_is_the_frozen_classifiers_cross_entropy(data):
    dims = dataclasses.replace(TOY_DIMS, feature_dim=12, num_seen_classes=len(data.seen))
    loss = PretrainedClassifier(PretrainedClassifier.Params(epochs=20), dims=dims)
    features, labels = load_split_images(data, "train", 64)
    seen_labels = torch.tensor([data.seen.index(int(c)) for c in labels])
    loss.prepare(features, seen_labels)
    assert not any(p.requires_grad for p in loss.parameters())  # frozen: buffers only
    # the pre-trained classifier recognises the real training features
    accuracy = (loss.logits(features).argmax(1) == seen_labels).float().mean()
    assert accuracy > 0.8
    step = ToyStep("generator", dims=dims, batch_size=6)
    fake, target = step.fake(), step.labels("target")
    x = (fake - loss.mean) / loss.scale
    logits = x @ loss.weight.T + loss.bias
    picked = logits[torch.arange(6), target]
    expected = (torch.log(torch.exp(logits).sum(dim=1)) - picked).mean()
    value = loss(step)
    assert torch.allclose(value, expected, atol=1e-5)
    (gradient,) = torch.autograd.grad(value, fake)
    assert gradient.abs().sum() > 0


def test_the_regulariser_refuses_to_run_unprepared():
    dims = dataclasses.replace(TOY_DIMS, feature_dim=12)
    loss = PretrainedClassifier(PretrainedClassifier.Params(), dims=dims)
    with pytest.raises(RuntimeError, match="before prepare"):
        loss(ToyStep("generator", dims=dims))


def _weights(trainer):
    state = {f"gan.{k}": v for k, v in trainer.gan.state_dict().items()}
    for prefix, loss in trainer.build.objective.named_losses():
        state.update({f"{prefix}.{k}": v for k, v in loss.state_dict().items()})
    return state


def test_a_feature_run_resumes_bit_for_bit_with_its_fitted_classifier(data, tmp_path):
    straight = Trainer(build(feature_spec(steps=4), data), tmp_path / "straight", device="cpu")
    straight.fit()
    Trainer(build(feature_spec(steps=2), data), tmp_path / "split", device="cpu").fit()
    tensors, _ = read_checkpoint(tmp_path / "split" / "checkpoints" / "step-000000002.safetensors")
    assert bool(tensors["objective.generator.1.fitted"])
    second = Trainer(
        build(feature_spec(steps=4), data), tmp_path / "split", device="cpu", resume=True
    )
    second.fit()
    expected, actual = _weights(straight), _weights(second)
    assert expected.keys() == actual.keys()
    assert [k for k in expected if not torch.equal(expected[k], actual[k])] == []
    assert not (tmp_path / "split" / "samples").exists()  # no picture grids of features


def test_imagined_features_feed_the_classifier_as_they_are(data):
    made = build(data=data)
    made.gan.eval()
    made_features = imagine(made.gan, data.attributes[[0, 1]], torch.device("cpu"), 8)
    assert made_features.dtype == torch.float32 and made_features.shape == (2, 12)
    same = classifier_features(made.gan, made_features, torch.device("cpu"), 8)
    assert torch.equal(same, made_features)
