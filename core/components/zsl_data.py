"""The in-memory description of a zero-shot data set: classes, attributes, split, image lists."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from zsk.registry import UserError


@dataclass(frozen=True)
class Sample:
    """One image file and the index of its class in :attr:`ZslData.classes`."""

    path: Path
    label: int


@dataclass(frozen=True)
class FeatureSample:
    """One row of :attr:`ZslData.features` (a feature data set's sample) and its class index."""

    row: int
    label: int


@dataclass(frozen=True)
class Holdout:
    """What a validation run left out of training (:mod:`zsk.core.data.holdout`).

    ``classes`` are the seen classes it held out (global indices); ``unseen_images`` their
    training images, and ``seen_images`` the held-out training images of the classes it trained.
    """

    classes: list[int]
    seen_images: list[Sample] | list[FeatureSample]
    unseen_images: list[Sample] | list[FeatureSample]


@dataclass
class ZslData:
    """Everything a run needs to know about its data except the pixels.

    ``attributes`` holds one row per class (in ``classes`` order), already scaled as the data
    set's params ask. ``train`` holds seen-class training images; ``test_seen`` the held-out
    seen-class images (for generalised ZSL); ``test_unseen`` every unseen-class image. A
    validation run's data (spec section ``holdout``) has fewer seen classes and training images,
    and ``holdout`` says which.

    A feature data set (pre-extracted CNN features, as the field's benchmark files hold) sets
    ``features`` to one float32 row per sample; its sample lists then hold :class:`FeatureSample`
    rows into that matrix instead of image files.

    ``validation_classes`` are seen classes the data set itself sets aside for choosing settings
    (the benchmark files' ``val_loc`` classes); a validation run holds them out by default.
    """

    root: Path
    classes: list[str]
    predicates: list[str]
    attributes: torch.Tensor
    seen: list[int]
    unseen: list[int]
    train: list[Sample] | list[FeatureSample]
    test_seen: list[Sample] | list[FeatureSample]
    test_unseen: list[Sample] | list[FeatureSample]
    skipped: list[Path] = field(default_factory=list)
    holdout: Holdout | None = None
    features: torch.Tensor | None = None
    validation_classes: list[int] | None = None

    @property
    def is_features(self) -> bool:
        """Whether the samples are feature vectors (rows of ``features``) rather than images."""
        return self.features is not None

    @property
    def feature_dim(self) -> int:
        if self.features is None:
            raise ValueError("an image data set has no feature dimension")
        return int(self.features.shape[1])

    @property
    def num_attributes(self) -> int:
        return int(self.attributes.shape[1])

    @property
    def num_seen_classes(self) -> int:
        return len(self.seen)

    @property
    def channels(self) -> int:
        """Image channels: 3, as every image is decoded to RGB (:mod:`zsk.core.data.images`)."""
        return 3

    def fingerprint(self) -> str:
        """A digest of class names, attribute matrix and split: what a run must not change."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.classes).encode())
        digest.update("\n".join(self.predicates).encode())
        digest.update(self.attributes.detach().to(torch.float32).contiguous().numpy().tobytes())
        digest.update(repr((self.seen, self.unseen)).encode())
        return digest.hexdigest()[:16]


def require_usable(data: ZslData) -> ZslData:
    """``data``, unless no training could use it: what every data set reader must refuse
    (its own checks name file and line; this catches what a reader let through)."""
    finite = torch.isfinite(data.attributes)
    if not finite.all():
        row, column = (~finite).nonzero()[0].tolist()
        raise UserError(
            f"attribute '{data.predicates[column]}' of class '{data.classes[row]}' is "
            f"{data.attributes[row, column].item()}, not a finite number",
            where=str(data.root),
            hint="fix that value in the data set's attribute table",
        )
    if len(data.seen) < 2:
        names = ", ".join(data.classes[i] for i in data.seen) or "none"
        plural = "" if len(data.seen) == 1 else "es"
        raise UserError(
            f"the data set has {len(data.seen)} seen class{plural} ({names}); a zero-shot model "
            "learns to tell seen classes apart by their attributes and needs at least two",
            where=str(data.root),
            hint="list at least two classes in the seen class list",
        )
    return data
