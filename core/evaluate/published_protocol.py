"""f-CLSWGAN's own evaluation of a feature generator, uncalibrated, as its release computes it.

The published tables (Xian et al. CVPR 2018 and the papers that compare with it) come from two
softmax classifiers that the release trains on generated features, neither calibrated:

- ZSL: a classifier over the unseen classes, trained on the generated unseen features alone;
  top-1 is the per-class mean accuracy on the unseen test features;
- GZSL: a classifier over all classes, trained on the real seen training features and the
  generated unseen features; u and s are its per-class mean accuracies (arg-max over all
  classes) on the unseen and the seen test features, H their harmonic mean.

Both are linear layers on the features as the data set gives them (its scaling applied, no
standardisation, no class weights), N(0, 0.02) weights and zero biases, Adam at 1e-3 with β1 0.5,
:data:`EPOCHS` passes in batches of the number generated per class (:data:`PER_CLASS`, the
release's ``--syn_num``). The release reports the best of the epochs on the test features; zsk
reports the last epoch, so no number is chosen on test data.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from zsk.core.build.model import GAN
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.components.zsl_data import ZslData
from zsk.core.evaluate.classifier import PUBLISHED, fit_softmax
from zsk.core.evaluate.inference import classifier_features, imagine_classes
from zsk.core.evaluate.protocol import gzsl_accuracy, zsl_top1
from zsk.core.evaluate.result import GzslNumbers, RouteResult

#: the release's generated features per unseen class (its AwA and CUB ZSL scripts) and epochs
PER_CLASS, EPOCHS = 300, 25


def published_protocol(
    gan: GAN,
    data: ZslData,
    train: LabelledImages,
    test: LabelledImages,
    device: torch.device,
    seed: int,
    per_class: int = PER_CLASS,
) -> RouteResult:
    """ZSL top-1 and uncalibrated GZSL u, s, H of the release's two classifiers (see module)."""
    generated = imagine_classes(
        gan,
        data.attributes.to(torch.float32),
        data.unseen,
        per_class,
        device,
        per_class,
        None,
        torch.Generator().manual_seed(seed),
    )
    recipe = replace(PUBLISHED, batch=per_class)
    fake = generated.images.to(torch.float32)
    real = classifier_features(gan, train.images, device, per_class)
    zsl_classifier = fit_softmax(fake, generated.labels, data.unseen, device, seed, EPOCHS, recipe)
    gzsl_classifier = fit_softmax(
        torch.cat([real, fake]),
        torch.cat([train.labels, generated.labels]),
        sorted(data.seen + data.unseen),
        device,
        seed,
        EPOCHS,
        recipe,
    )
    features = classifier_features(gan, test.images, device, per_class)
    unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    classes = len(data.classes)
    zsl_scores = zsl_classifier.scores(features[unseen], classes)
    gzsl_scores = gzsl_classifier.scores(features, classes)
    seen_mask = torch.zeros(classes, dtype=torch.bool)
    seen_mask[torch.tensor(data.seen)] = True
    gzsl = gzsl_accuracy(gzsl_scores, test.labels, seen_mask)
    return RouteResult(
        zsl_top1=zsl_top1(zsl_scores, test.labels[unseen], data.unseen),
        gzsl=GzslNumbers(u=gzsl.u, s=gzsl.s, h=gzsl.h),
        images_per_class=per_class,
        classifier_epochs=EPOCHS,
    )
