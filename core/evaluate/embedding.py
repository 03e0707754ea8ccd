"""Embedding ZSL: the nearest class embedding ψ(t_c) to an image's embedding φ(x), by cosine."""

from __future__ import annotations

import torch

from zsk.core.data.types import ZslData
from zsk.core.evaluate.gzsl import calibrated_gzsl, zsl_top1
from zsk.core.evaluate.inference import (
    LabelledImages,
    cosine_scores,
    embed_attributes,
    embed_images,
)
from zsk.core.evaluate.validation import ValidationSplit
from zsk.core.model import GAN


def evaluate_embedding(
    gan: GAN,
    data: ZslData,
    train: LabelledImages,
    test: LabelledImages,
    split: ValidationSplit,
    device: torch.device,
    batch_size: int,
) -> dict[str, object]:
    """ZSL top-1 over the unseen classes and calibrated GZSL over all classes.

    ``test`` holds the test_seen and test_unseen images; the calibration constant is chosen on
    ``train``'s validation part (see :mod:`zsk.core.evaluate.validation`).
    """
    class_embeddings = embed_attributes(gan, data.attributes, device)
    test_scores = cosine_scores(
        embed_images(gan, test.images, device, batch_size), class_embeddings
    )
    val = train.subset(split.val)
    val_scores = cosine_scores(embed_images(gan, val.images, device, batch_size), class_embeddings)
    is_unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    gzsl = calibrated_gzsl(
        val_scores,
        val.labels,
        split.pseudo_seen,
        split.pseudo_unseen,
        test_scores,
        test.labels,
        data.seen,
        data.unseen,
    )
    return {
        "zsl_top1": zsl_top1(test_scores[is_unseen], test.labels[is_unseen], data.unseen),
        "gzsl": gzsl,
    }
