"""Generative ZSL, the report's idea: imagine the unseen classes, then classify as usual.

G makes ``per_class`` images of every unseen class from its attributes (a translating G
translates random real seen-class training images towards them); a softmax classifier on the
discriminator trunk's pooled features of real seen images plus those imagined images then
predicts among all classes. ZSL top-1 reads the same classifier's scores among the unseen
classes only. The calibration constant comes from a validation classifier made the same way
one level down (:func:`choose_imagining`): by a validation run's networks for its
held-out classes where one is given, else by the run's own for pseudo-unseen classes
(:mod:`zsk.core.evaluate.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from zsk.core.build.model import GAN
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.components.zsl_data import ZslData
from zsk.core.evaluate.classifier import EPOCHS, SoftmaxClassifier, fit_softmax
from zsk.core.evaluate.embedding import CalibrationImages
from zsk.core.evaluate.inference import classifier_features, imagine_classes
from zsk.core.evaluate.merit import best, gzsl_merit
from zsk.core.evaluate.protocol import Calibration, calibrated_gzsl, zsl_top1
from zsk.core.evaluate.result import Candidate, RouteResult


@dataclass(frozen=True)
class Imagining:
    """How many images to imagine per class, where, from which seed, and the final
    classifier's training length."""

    per_class: int
    device: torch.device
    batch_size: int
    seed: int
    epochs: int = EPOCHS


def _classifier_with_imagined(
    gan: GAN,
    data: ZslData,
    real: LabelledImages,
    real_classes: list[int],
    imagine_for: list[int],
    how: Imagining,
) -> tuple[SoftmaxClassifier, LabelledImages]:
    """A softmax classifier over ``real_classes`` and ``imagine_for``, fitted on trunk features
    of ``real`` and of images ``gan`` imagines for ``imagine_for`` (translating ``real``)."""
    imagined = imagine_classes(
        gan,
        data.attributes.to(torch.float32),
        imagine_for,
        how.per_class,
        how.device,
        how.batch_size,
        real.images,
        torch.Generator().manual_seed(how.seed),
    )
    features = torch.cat([_features(gan, real, how), _features(gan, imagined, how)])
    labels = torch.cat([real.labels, imagined.labels])
    classes = sorted(real_classes + imagine_for)
    return fit_softmax(features, labels, classes, how.device, how.seed, how.epochs), imagined


def _features(gan: GAN, images: LabelledImages, how: Imagining) -> torch.Tensor:
    return classifier_features(gan, images.images, how.device, how.batch_size)


def validation_classifier(
    gan: GAN, data: ZslData, fit: LabelledImages, validation: CalibrationImages, how: Imagining
) -> tuple[SoftmaxClassifier, torch.Tensor]:
    """A classifier that ``gan`` (trained on ``validation.seen``) makes as the final one is
    made: fitted on ``fit`` (real images of ``validation.seen``) plus images imagined for every
    class of ``validation.unseen_side``; and its scores over every class of
    ``validation.images``."""
    classifier, _ = _classifier_with_imagined(
        gan, data, fit, validation.seen, validation.unseen_side, how
    )
    return classifier, scored(gan, classifier, validation.images.images, data, how)


def scored(
    gan: GAN, classifier: SoftmaxClassifier, images: torch.Tensor, data: ZslData, how: Imagining
) -> torch.Tensor:
    """``classifier``'s log-probabilities (N, C over every class) of ``images`` (through
    ``gan``'s trunk features, or feature rows as they are)."""
    features = classifier_features(gan, images, how.device, how.batch_size)
    return classifier.scores(features, len(data.classes))


@dataclass(frozen=True)
class ChosenImagining:
    """The generative route's settings chosen on validation classes: how to imagine, the
    calibration they reached, every candidate's validation H, the chosen classifier and its
    validation scores (N, C), and every candidate's, in the order tried."""

    how: Imagining
    calibration: Calibration
    candidates: list[Candidate]
    classifier: SoftmaxClassifier
    validation_scores: torch.Tensor
    every_validation_scores: tuple[torch.Tensor, ...]


def choose_imagining(
    gan: GAN,
    data: ZslData,
    fit: LabelledImages,
    validation: CalibrationImages,
    how: Imagining,
    per_class: tuple[int, ...],
    epochs: tuple[int, ...],
) -> ChosenImagining:
    """The number imagined per class and the classifier's epochs with the best validation H
    (after its own calibration; :mod:`.merit` breaks ties), among ``per_class`` × ``epochs``:
    each candidate's classifier is made as :func:`validation_classifier` makes one, on
    validation classes only."""
    tried, merits, table, scores = [], [], [], []
    labels = validation.images.labels
    for count in per_class:
        for passes in epochs:
            candidate = replace(how, per_class=count, epochs=passes)
            classifier, candidate_scores = validation_classifier(
                gan, data, fit, validation, candidate
            )
            calibration, merit = gzsl_merit(
                candidate_scores, labels, validation.seen, validation.unseen_side
            )
            tried.append((candidate, calibration, classifier))
            merits.append(merit)
            scores.append(candidate_scores)
            table.append(Candidate(images_per_class=count, epochs=passes, val_h=calibration.h))
    k = best(merits)
    how, calibration, classifier = tried[k]
    return ChosenImagining(how, calibration, table, classifier, scores[k], tuple(scores))


def final_classifier(
    gan: GAN, data: ZslData, train: LabelledImages, how: Imagining
) -> tuple[SoftmaxClassifier, LabelledImages]:
    """The final classifier over every class, fitted on ``train`` and on samples imagined for
    the unseen classes as ``how`` (chosen by :func:`choose_imagining`) says; and those samples."""
    return _classifier_with_imagined(gan, data, train, data.seen, data.unseen, how)


def generative_route(
    data: ZslData,
    test: LabelledImages,
    test_scores: torch.Tensor,
    calibration: Calibration,
    source: str,
    chosen: ChosenImagining,
) -> RouteResult:
    """Generative ZSL top-1 and GZSL u, s, H of the final classifier's ``test_scores`` with
    ``calibration`` (chosen beforehand on the validation images ``source`` names, with the
    settings ``chosen`` among its candidates)."""
    is_unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    return RouteResult(
        zsl_top1=zsl_top1(test_scores[is_unseen], test.labels[is_unseen], data.unseen),
        gzsl=calibrated_gzsl(calibration, test_scores, test.labels, data.seen, data.unseen, source),
        images_per_class=chosen.how.per_class,
        classifier_epochs=chosen.how.epochs,
        chosen_on_validation=chosen.candidates,
    )
