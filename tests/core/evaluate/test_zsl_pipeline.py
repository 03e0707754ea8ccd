"""Validation split, calibration on validation only, and the embedding and generative routes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.evaluate.classifier import fit_softmax
from zsk.core.evaluate.embedding import (
    CalibrationImages,
    class_scores,
    embedding_calibration,
    evaluate_embedding,
)
from zsk.core.evaluate.generative import (
    Imagining,
    choose_imagining,
    final_classifier,
    generative_route,
    scored,
)
from zsk.core.evaluate.inference import (
    cosine_scores,
    embed_attributes,
    embed_images,
    imagine_classes,
)
from zsk.core.evaluate.protocol import (
    calibrate,
    calibrated_gzsl,
    choose_calibration,
    gzsl_accuracy,
    restrict,
    zsl_top1,
)
from zsk.core.evaluate.pseudo_unseen import pseudo_unseen_split

from .conftest import ToyGenerator, ToyTranslator

CPU = torch.device("cpu")


def test_pseudo_unseen_split_holds_out_classes_and_images():
    labels = torch.arange(10).repeat_interleave(7)  # 10 seen classes, 7 images each
    split = pseudo_unseen_split(labels, list(range(10)), num_unseen=3, seed=1)
    # the data set's unseen share 3/13 of 10 seen classes -> 2 pseudo-unseen classes
    assert len(split.held_out) == round(10 * 3 / 13) == 2
    assert sorted(split.trained + split.held_out) == list(range(10))
    assert set(labels[split.val_unseen].tolist()) == set(split.held_out)
    assert len(split.val_unseen) == 2 * 7
    # every pseudo-seen image is either fitted on or held out, never both
    assert set(split.fit.tolist()).isdisjoint(split.val_seen.tolist())
    assert sorted(split.fit.tolist() + split.val_seen.tolist()) == sorted(
        torch.nonzero(torch.isin(labels, torch.tensor(split.trained))).squeeze(1).tolist()
    )
    # round(7 * 0.2) = 1 held-out image per pseudo-seen class
    assert torch.bincount(labels[split.val_seen], minlength=10)[split.trained].tolist() == [1] * 8
    again = pseudo_unseen_split(labels, list(range(10)), num_unseen=3, seed=1)
    assert again.held_out == split.held_out and torch.equal(again.fit, split.fit)


def test_pseudo_unseen_split_keeps_a_class_on_each_side():
    labels = torch.tensor([0, 0, 1, 1])
    split = pseudo_unseen_split(labels, [0, 1], num_unseen=50)
    assert len(split.held_out) == 1 and len(split.trained) == 1


def _scores(n: int, classes: int, seed: int) -> torch.Tensor:
    return torch.randn(n, classes, generator=torch.Generator().manual_seed(seed))


def test_calibration_is_chosen_on_validation_scores_only():
    seen, unseen = [0, 1, 2], [3, 4]
    val_labels = torch.tensor([0, 0, 1, 1, 2, 2])  # class 2 plays unseen on validation
    val_scores = _scores(6, 5, 0)
    test_labels = torch.tensor([0, 1, 2, 3, 4, 3, 4, 0])
    calibration = calibrate(val_scores, val_labels, [0, 1], [2])
    narrow, positions = restrict(val_scores, val_labels, [0, 1, 2])
    expected = choose_calibration(narrow, positions, torch.tensor([True, True, False]))
    assert calibration == expected
    # the validation scores move it; the test scores only receive it
    shifted = val_scores.clone()
    shifted[:, :2] += 5.0
    assert calibrate(shifted, val_labels, [0, 1], [2]).gamma == pytest.approx(
        calibration.gamma + 5.0
    )
    test_scores = _scores(8, 5, 1)
    result = calibrated_gzsl(calibration, test_scores, test_labels, seen, unseen, "val")
    assert result.calibration == calibration.record("val")
    assert (result.calibration.gamma, result.calibration.val_h) == (
        calibration.gamma,
        calibration.h,
    )
    mask = torch.tensor([True, True, True, False, False])
    by_hand = gzsl_accuracy(test_scores, test_labels, mask, calibration.gamma)
    assert (result.u, result.s, result.h) == (by_hand.u, by_hand.s, by_hand.h)
    plain = gzsl_accuracy(test_scores, test_labels, mask, 0.0)
    assert (result.uncalibrated.u, result.uncalibrated.h) == (plain.u, plain.h)


def test_restrict_maps_labels_to_candidate_positions():
    scores = torch.arange(10.0).reshape(2, 5)
    narrow, positions = restrict(scores, torch.tensor([4, 1]), [1, 4])
    assert narrow.tolist() == [[1.0, 4.0], [6.0, 9.0]]
    assert positions.tolist() == [1, 0]
    with pytest.raises(ValueError, match="candidate"):
        restrict(scores, torch.tensor([0]), [1, 4])


def test_zsl_top1_predicts_among_unseen_only():
    # the seen column 0 scores highest everywhere, but ZSL never considers it
    scores = torch.tensor([[9.0, 1.0, 0.0], [9.0, 0.0, 1.0], [9.0, 1.0, 0.0]])
    labels = torch.tensor([1, 2, 2])
    assert zsl_top1(scores, labels, [1, 2]) == pytest.approx((1.0 + 0.5) / 2)


def test_cosine_scores_use_the_l2_norm():
    a = torch.tensor([[3.0, 4.0]])
    b = torch.tensor([[6.0, 8.0], [4.0, -3.0], [-1.0, 0.0]])
    assert cosine_scores(a, b)[0].tolist() == pytest.approx([1.0, 0.0, -0.6])


def test_embedding_route_on_a_toy_world(toy, toy_sets):
    train, test = toy_sets
    data = toy.data()
    split = pseudo_unseen_split(train.labels, toy.seen, len(toy.unseen), seed=0)
    validation = CalibrationImages(train.subset(split.val), split.trained, split.held_out, "toy")
    calibration, _ = embedding_calibration(toy.gan(), data, validation, CPU, batch_size=16)
    result, _ = evaluate_embedding(toy.gan(), data, test, calibration, "toy", CPU, batch_size=16)
    assert result.zsl_top1 == pytest.approx(1.0)
    assert result.gzsl.h == pytest.approx(1.0)
    assert result.gzsl.calibration == calibration.record("toy")

    # unseen test images that look like seen class 0: ZSL falls
    generator = torch.Generator().manual_seed(5)
    is_unseen = torch.isin(test.labels, torch.tensor(toy.unseen))
    images = test.images.clone()
    images[is_unseen] = toy.class_images(
        torch.zeros(int(is_unseen.sum()), dtype=torch.long), generator
    )
    fooled = LabelledImages(images, test.labels)
    other, _ = evaluate_embedding(toy.gan(), data, fooled, calibration, "toy", CPU, batch_size=16)
    assert other.zsl_top1 < 1.0


class _SideTrunk(nn.Module):
    """The toy trunk's mean colour, weighing each image's right side more than its left."""

    def forward(self, images):
        weights = torch.linspace(0.2, 1.8, images.shape[-1])
        means = (images * weights).mean(dim=(2, 3))
        return means[:, :, None, None].expand(-1, -1, 2, 2)


def test_mirror_averaged_scores_are_the_mean_direction_of_an_image_and_its_mirror(toy, toy_sets):
    _, test = toy_sets
    gan, data = toy.gan(), toy.data()
    gan.discriminator.trunk = _SideTrunk()
    images = test.images[:12]
    mirrors = images.flip(-1)
    own = embed_images(gan, images, CPU, 16)
    mirror = embed_images(gan, mirrors, CPU, 16)
    assert not torch.allclose(own, mirror), "the toy's embeddings must see the side"
    mean = own / own.norm(dim=1, keepdim=True) + mirror / mirror.norm(dim=1, keepdim=True)
    classes = embed_attributes(gan, data.attributes, CPU)
    expected = (mean / mean.norm(dim=1, keepdim=True)) @ (
        classes / classes.norm(dim=1, keepdim=True)
    ).T
    averaged = class_scores(gan, data, images, CPU, 5, mirrored=True)
    assert torch.allclose(averaged, expected, atol=1e-5)
    # an image and its mirror image now score alike; each image's own scores did not
    assert torch.allclose(class_scores(gan, data, mirrors, CPU, 16, mirrored=True), averaged)
    assert not torch.allclose(class_scores(gan, data, images, CPU, 16), averaged)
    assert torch.allclose(class_scores(gan, data, images, CPU, 16), cosine_scores(own, classes))

    split = pseudo_unseen_split(toy_sets[0].labels, toy.seen, len(toy.unseen), seed=0)
    validation = CalibrationImages(
        toy_sets[0].subset(split.val), split.trained, split.held_out, "toy"
    )
    calibration, scores = embedding_calibration(gan, data, validation, CPU, 16, mirrored=True)
    mirrored_validation = class_scores(gan, data, validation.images.images, CPU, 16, True)
    assert torch.allclose(scores, mirrored_validation)
    route, test_scores = evaluate_embedding(gan, data, test, calibration, "toy", CPU, 16, True)
    assert route.mirror_averaged is True
    assert torch.allclose(test_scores[:12], averaged, atol=1e-5)


@pytest.mark.parametrize("translating", [False, True])
def test_generative_route_on_a_toy_world(toy, toy_sets, translating):
    train, test = toy_sets
    data, gan = toy.data(), toy.gan(translating)
    split = pseudo_unseen_split(train.labels, toy.seen, len(toy.unseen), seed=0)
    validation = CalibrationImages(train.subset(split.val), split.trained, split.held_out, "toy")
    how = Imagining(per_class=8, device=CPU, batch_size=16, seed=0)
    fit = train.subset(split.fit)
    chosen = choose_imagining(gan, data, fit, validation, how, (8,), (how.epochs,))
    calibration = chosen.calibration
    classifier, imagined = final_classifier(gan, data, train, chosen.how)
    assert imagined.labels.tolist() == [4] * 8 + [5] * 8
    assert imagined.images.shape == (16, 3, 16, 16)
    assert imagined.images.dtype == torch.uint8
    scores = scored(gan, classifier, test.images, data, chosen.how)
    assert scores.shape == (len(test), len(data.classes))
    route = generative_route(data, test, scores, calibration, "toy", chosen)
    assert route.gzsl.calibration == calibration.record("toy")
    assert route.zsl_top1 == pytest.approx(1.0)
    assert route.gzsl.u > 0.5 and route.gzsl.s > 0.5
    for value in (route.gzsl.u, route.gzsl.s, route.gzsl.ausuc):
        assert 0.0 <= value <= 1.0
    assert (route.images_per_class, route.classifier_epochs) == (how.per_class, how.epochs)


def test_softmax_classifier_fits_separable_features_and_masks_other_classes():
    generator = torch.Generator().manual_seed(0)
    labels = torch.tensor([2, 5, 7]).repeat_interleave(20)
    centres = {
        2: torch.tensor([4.0, 0.0]),
        5: torch.tensor([0.0, 4.0]),
        7: torch.tensor([-4.0, -4.0]),
    }
    features = torch.stack([centres[int(c)] for c in labels]) + torch.randn(
        60, 2, generator=generator
    )
    classifier = fit_softmax(features, labels, [2, 5, 7], CPU, seed=0)
    scores = classifier.scores(features, num_classes=9)
    assert scores.shape == (60, 9)
    assert bool(torch.isinf(scores[:, [0, 1, 3, 4, 6, 8]]).all())
    assert torch.exp(scores[:, [2, 5, 7]]).sum(1).tolist() == pytest.approx([1.0] * 60, abs=1e-5)
    assert (scores.argmax(1) == labels).float().mean() > 0.95


class _RecordingTranslator(ToyTranslator):
    """Translates a source when given one, imagines without; records which it was asked."""

    source_images = "optional"

    def __init__(self, dims):
        super().__init__(dims)
        self.given_sources: list[bool] = []

    def forward(self, attributes, images=None, noise=None):
        self.given_sources.append(images is not None)
        return ToyGenerator.forward(self, attributes)


def test_imagination_uses_no_source_when_the_generator_needs_none(toy):
    attributes = toy.data().attributes.float()
    generator = torch.Generator().manual_seed(0)
    gan = toy.gan(translating=True)
    with pytest.raises(ValueError, match="needs source images"):
        imagine_classes(gan, attributes, toy.unseen, 2, CPU, 16, None, generator)
    # a translating generator that can also imagine from attributes alone is given no source,
    # so what it shows for a class is not borrowed from a real image
    gan.generator = _RecordingTranslator(gan.dims)
    imagined = imagine_classes(gan, attributes, toy.unseen, 2, CPU, 16, None, generator)
    assert imagined.labels.tolist() == [4, 4, 5, 5]
    assert gan.generator.given_sources == [False]


class _RecordingGenerator(ToyGenerator):
    """Records the attribute rows it is asked to draw."""

    def __init__(self, dims):
        super().__init__(dims)
        self.asked: list[torch.Tensor] = []

    def forward(self, attributes, images=None, noise=None):
        self.asked.append(attributes.clone())
        return super().forward(attributes)


def test_generative_constant_is_chosen_by_the_judge_imagining_its_held_out_classes(toy, toy_sets):
    train, _ = toy_sets
    data, judge = toy.data(), toy.gan()
    judge.generator = _RecordingGenerator(judge.dims)
    held_out = [3]  # the judge plays a run that never trained on class 3
    fit = train.subset(train.labels != 3)
    validation = CalibrationImages(train, [0, 1, 2], held_out, "toy")
    how = Imagining(per_class=5, device=CPU, batch_size=16, seed=0)
    chosen = choose_imagining(judge, data, fit, validation, how, (5,), (how.epochs,))
    calibration = chosen.calibration
    asked = torch.cat(judge.generator.asked)
    assert torch.equal(asked, data.attributes[held_out].repeat(5, 1))
    # colours separate the classes, so the validation classifier is right on both sides
    assert calibration.h == pytest.approx(1.0)


def test_the_unseen_classes_compete_as_distractors_where_the_constant_is_chosen(toy, toy_sets):
    train, _ = toy_sets
    data, judge = toy.data(), toy.gan()
    judge.generator = _RecordingGenerator(judge.dims)
    fit = train.subset(train.labels != 3)
    validation = CalibrationImages(train, [0, 1, 2], [3], "toy", distractors=toy.unseen)
    assert validation.unseen_side == [3, *toy.unseen]
    how = Imagining(per_class=5, device=CPU, batch_size=16, seed=0)
    chosen = choose_imagining(judge, data, fit, validation, how, (5,), (how.epochs,))
    # the judge imagines the held-out class and every distractor, and its classifier predicts
    # among all of them
    asked = torch.cat(judge.generator.asked)
    assert torch.equal(asked, data.attributes[[3, *toy.unseen]].repeat_interleave(5, dim=0))
    assert torch.isfinite(chosen.validation_scores[:, [3, *toy.unseen]]).all()
    # the embedding route's constant: the best H with the distractors among the candidates
    calibration, scores = embedding_calibration(judge, data, validation, CPU, batch_size=16)
    candidates = [0, 1, 2, 3, *toy.unseen]
    narrow, positions = restrict(scores, train.labels, candidates)
    seen_mask = torch.tensor([c in (0, 1, 2) for c in candidates])
    assert calibration == choose_calibration(narrow, positions, seen_mask)
