"""The data feed of training: the train split's samples in batches, and each step's drawn batch.

Labels become seen-class indices (the networks know the seen classes only); the
:class:`~zsk.core.data.loader.BatchStream` is part of the trainer's state, so a resumed run
draws the batches an uninterrupted one would.
"""

from __future__ import annotations

import torch

from zsk.core.build.composer import Build
from zsk.core.build.step import Batch, draw_batch
from zsk.core.data.augment import random_hflip, random_translate
from zsk.core.data.loader import BatchStream, load_split_images
from zsk.core.spec.sections import TrainSpec
from zsk.core.train.distributed import Distributed
from zsk.registry import UserError


class TrainingFeed:
    """The training samples on ``device`` and the batches a step draws from them."""

    def __init__(
        self,
        build: Build,
        settings: TrainSpec,
        device: torch.device,
        layout: Distributed,
        channels_last: bool,
    ):
        data = build.data
        images, labels = load_split_images(data, "train", build.dims.image_size)
        lookup = torch.full((len(data.classes),), -1, dtype=torch.int64)
        lookup[torch.tensor(data.seen)] = torch.arange(len(data.seen))
        seen_labels = lookup[labels]
        if (seen_labels < 0).any():
            raise UserError(
                "the training split holds images of unseen classes",
                hint="check the data set's split files",
            )
        self.settings, self.channels_last = settings, channels_last
        self.hflip = settings.hflip and not build.dims.feature_dim
        self.max_shift = (
            0 if build.dims.feature_dim else int(settings.translate * build.dims.image_size)
        )
        self.noise_dim = build.dims.noise_dim
        self.stream = BatchStream(
            images,
            seen_labels,
            settings.batch_size,
            seed=settings.seed,
            device=device,
            rank=layout.rank,
            world_size=layout.world_size,
            sampling=settings.batch_sampling,
        )
        self.class_attributes = data.attributes[data.seen].float().to(device)
        self._batches = iter(self.stream)

    def restart(self) -> None:
        """Continue from the stream's position (after its state was loaded on resume)."""
        self._batches = iter(self.stream)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (samples, seen-class labels), starting a new epoch when one ends."""
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.stream)
            return next(self._batches)

    def draw(self) -> Batch:
        """The next batch with its other classes, targets and noise (:func:`draw_batch`),
        flipped at random where the spec asks for it."""
        images, labels = self.next_batch()
        if self.hflip:
            images = random_hflip(images)
        images = random_translate(images, self.max_shift)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return draw_batch(
            images,
            labels,
            self.class_attributes,
            negative_fraction=self.settings.negative_fraction,
            noise_dim=self.noise_dim,
        )
