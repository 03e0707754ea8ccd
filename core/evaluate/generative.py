"""Generative ZSL, the report's idea: imagine the unseen classes, then classify as usual.

G makes ``per_class`` images of every unseen class from its attributes (a translating G
translates random real seen-class training images towards them); a softmax classifier on the
discriminator trunk's pooled features of real seen images plus those imagined images then
predicts among all classes. ZSL top-1 reads the same classifier's scores among the unseen
classes only. The calibration constant comes from a validation classifier fitted one level
down, on pseudo-seen real images plus images imagined for the pseudo-unseen classes (see
:mod:`zsk.core.evaluate.validation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zsk.core.data.holdout import ClassSplit
from zsk.core.data.types import ZslData
from zsk.core.evaluate.classifier import fit_softmax
from zsk.core.evaluate.gzsl import calibrate, calibrated_gzsl, zsl_top1
from zsk.core.evaluate.inference import LabelledImages, imagine_classes, pooled_features
from zsk.core.model import GAN


@dataclass
class GenerativeResult:
    metrics: dict[str, object]
    imagined: LabelledImages
    """The images imagined for the unseen classes (judged later for attributes and FID)."""


def evaluate_generative(
    gan: GAN,
    data: ZslData,
    train: LabelledImages,
    test: LabelledImages,
    split: ClassSplit,
    per_class: int,
    device: torch.device,
    batch_size: int,
    seed: int,
) -> GenerativeResult:
    """Generative ZSL top-1 and calibrated GZSL u, s, H (see module)."""
    generator = torch.Generator().manual_seed(seed)
    attributes = data.attributes.to(torch.float32)
    num_classes = len(data.classes)

    def features(images: torch.Tensor) -> torch.Tensor:
        return pooled_features(gan, images, device, batch_size)

    train_features = features(train.images)
    fit = train.subset(split.fit)
    val_imagined = imagine_classes(
        gan, attributes, split.held_out, per_class, device, batch_size, fit.images, generator
    )
    val_classifier = fit_softmax(
        torch.cat([train_features[split.fit], features(val_imagined.images)]),
        torch.cat([fit.labels, val_imagined.labels]),
        sorted(split.trained + split.held_out),
        device,
        seed,
    )
    val_scores = val_classifier.scores(train_features[split.val], num_classes)

    imagined = imagine_classes(
        gan, attributes, data.unseen, per_class, device, batch_size, train.images, generator
    )
    classifier = fit_softmax(
        torch.cat([train_features, features(imagined.images)]),
        torch.cat([train.labels, imagined.labels]),
        sorted(data.seen + data.unseen),
        device,
        seed,
    )
    test_scores = classifier.scores(features(test.images), num_classes)
    is_unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    calibration = calibrate(val_scores, train.labels[split.val], split.trained, split.held_out)
    gzsl = calibrated_gzsl(calibration, test_scores, test.labels, data.seen, data.unseen)
    gzsl["calibration"]["source"] = "validation classifier fitted without the pseudo-unseen classes"
    metrics = {
        "zsl_top1": zsl_top1(test_scores[is_unseen], test.labels[is_unseen], data.unseen),
        "gzsl": gzsl,
        "images_per_class": per_class,
    }
    return GenerativeResult(metrics, imagined)
