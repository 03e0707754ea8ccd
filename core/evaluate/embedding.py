"""Embedding ZSL: the nearest class embedding ψ(t_c) to an image's embedding φ(x), by cosine."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from zsk.core.build.model import GAN
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.components.zsl_data import ZslData
from zsk.core.evaluate.inference import cosine_scores, embed_attributes, embed_images
from zsk.core.evaluate.protocol import Calibration, calibrate, calibrated_gzsl, zsl_top1
from zsk.core.evaluate.result import RouteResult


@dataclass(frozen=True)
class CalibrationImages:
    """Validation images on which a calibration constant is chosen, and where they come from.

    ``seen`` are classes the judged networks were trained on, ``unseen`` classes they never
    saw (or, failing a validation run, classes that play them); ``source`` says which in words.
    ``distractors`` are classes the networks never saw that have no images here: the data
    set's unseen classes, given by their attributes alone. They are candidates on the unseen
    side, so the seen images meet the unseen classes they will meet in the test: the constant
    is then chosen for the classes it will be used with, not only for the held-out ones.
    """

    images: LabelledImages
    seen: list[int]
    unseen: list[int]
    source: str
    distractors: list[int] = field(default_factory=list)

    @property
    def unseen_side(self) -> list[int]:
        """Every candidate class on the unseen side: the held-out classes and the distractors."""
        return self.unseen + self.distractors


def class_scores(
    gan: GAN,
    data: ZslData,
    images: torch.Tensor,
    device: torch.device,
    batch_size: int,
    mirrored: bool = False,
) -> torch.Tensor:
    """(N, C) cosine of each image's embedding with every class's embedding.

    ``mirrored``: an image's embedding is the mean direction of its own and its mirror image's,
    for a network trained on mirrored images, which should answer the two alike; the average
    removes what each answer owes to the side an object happens to face.
    """
    class_embeddings = embed_attributes(gan, data.attributes, device)
    embeddings = F.normalize(embed_images(gan, images, device, batch_size), dim=1)
    if mirrored:
        mirror = embed_images(gan, images.flip(-1), device, batch_size)
        embeddings = embeddings + F.normalize(mirror, dim=1)
    return cosine_scores(embeddings, class_embeddings)


def embedding_calibration(
    gan: GAN,
    data: ZslData,
    validation: CalibrationImages,
    device: torch.device,
    batch_size: int,
    mirrored: bool = False,
) -> tuple[Calibration, torch.Tensor]:
    """The constant with the best validation H for ``gan`` (the run that trained on
    ``validation.seen``, which is a validation run when one is given), and the validation
    scores it was chosen on (N, C); ``mirrored`` as :func:`class_scores`."""
    scores = class_scores(gan, data, validation.images.images, device, batch_size, mirrored)
    labels = validation.images.labels
    calibration = calibrate(scores, labels, validation.seen, validation.unseen_side)
    return calibration, scores


def evaluate_embedding(
    gan: GAN,
    data: ZslData,
    test: LabelledImages,
    calibration: Calibration,
    source: str,
    device: torch.device,
    batch_size: int,
    mirrored: bool = False,
) -> tuple[RouteResult, torch.Tensor]:
    """ZSL top-1 over the unseen classes, and GZSL over all classes with ``calibration``; and
    the test scores (N, C) they were read from.

    ``test`` holds the test_seen and test_unseen images; ``calibration`` was chosen on
    validation images before (:func:`embedding_calibration`), and ``source`` names them;
    ``mirrored`` as :func:`class_scores`.
    """
    test_scores = class_scores(gan, data, test.images, device, batch_size, mirrored)
    is_unseen = torch.isin(test.labels, torch.tensor(data.unseen))
    route = RouteResult(
        zsl_top1=zsl_top1(test_scores[is_unseen], test.labels[is_unseen], data.unseen),
        gzsl=calibrated_gzsl(calibration, test_scores, test.labels, data.seen, data.unseen, source),
        mirror_averaged=mirrored,
    )
    return route, test_scores
