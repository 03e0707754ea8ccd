"""Samples for training and evaluation: a split's images as one uint8 tensor, and batches of it.

Images stay uint8 until a batch is drawn; :class:`BatchStream` moves each batch to the device
as uint8 (a quarter of the bytes of float) and scales it to [-1, 1] there. A feature data set
(``ZslData.features``) gives float32 rows (N, D) instead, which networks take as they are
(:func:`as_inputs`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

from zsk.core.components.zsl_data import FeatureSample, Sample, ZslData
from zsk.core.data.images import decode_into
from zsk.core.data.prepared import open_prepared
from zsk.core.data.progress import progress_bar, report_skipped
from zsk.registry import UserError

logger = logging.getLogger("zsk.data")

Split = Literal["train", "test_seen", "test_unseen"]


def load_split_images(
    data: ZslData, split: Split, image_size: int, *, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, S, S) and int64 global class labels (N,) of one split.

    Uses the prepared file (``zsk data prepare``) when one of ``image_size`` describes the
    split's files as they are: memory-mapped, and without a copy when the split's rows are
    contiguous in it. Otherwise decodes in parallel. Undecodable files are left out, counted
    in one summary line, and added to ``data.skipped``.
    """
    return load_images(data, getattr(data, split), image_size, split, progress=progress)


def load_images(
    data: ZslData, samples: list[Sample], image_size: int, name: str, *, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_split_images` for any list of the data set's samples, called ``name``.

    For a feature data set: its float32 rows (N, D) of those samples (``image_size`` unused).
    """
    labels = np.asarray([s.label for s in samples], dtype=np.int64)
    if data.features is not None:
        return _feature_rows(data.features, samples), torch.from_numpy(labels)
    prepared = open_prepared(data.root, image_size)
    rows = prepared.rows_for(samples, data.classes) if prepared is not None else None
    if prepared is not None and rows is None:
        logger.info("prepared %d×%d file is out of date; decoding instead", image_size, image_size)
    if rows is not None and prepared is not None:
        keep = rows >= 0
        images = _gather(prepared.array, rows[keep])
        failed = np.flatnonzero(~keep).tolist()
    else:
        images = np.zeros((len(samples), 3, image_size, image_size), dtype=np.uint8)
        with progress_bar(len(samples), f"decoding {name}", progress) as advance:
            failed = decode_into([s.path for s in samples], image_size, images, on_done=advance)
        if failed:
            images = np.delete(images, failed, axis=0)
    skipped = [samples[i].path for i in failed]
    report_skipped(skipped, len(samples), f"{name} images")
    data.skipped.extend(p for p in skipped if p not in data.skipped)
    labels = np.delete(labels, failed)
    return torch.from_numpy(images), torch.from_numpy(labels)


def _feature_rows(features: torch.Tensor, samples: list[FeatureSample]) -> torch.Tensor:
    rows = torch.tensor([s.row for s in samples], dtype=torch.long)
    return features.index_select(0, rows).to(torch.float32)


def _gather(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]``: a view when the rows are one ascending run, else one copy."""
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return array[rows[0] : rows[0] + len(rows)]
    return array[rows]


def as_inputs(samples: torch.Tensor) -> torch.Tensor:
    """Samples as networks take them: uint8 images scaled to [-1, 1] (:func:`to_unit_range`),
    feature rows (floating point) as float32, unchanged."""
    if samples.dtype == torch.uint8:
        return to_unit_range(samples)
    return samples.to(torch.float32)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float32 in [-1, 1]: 0 -> -1, 255 -> 1."""
    return images.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


#: Values converted at a time on the CPU: 4 × 3 × 128 × 128 floats (768 KiB) stay in L2 cache
#: between the conversion and the scaling, so the float batch is written to memory once;
#: smaller images go more at a time (64 of 32 px), as a few operations each.
CPU_CHUNK_VALUES = 4 * 3 * 128 * 128
# x * 2/255 - 1 as one in-place pass: lerp(x, e, w) = (1 - w) x + w e with 1 - w = 2/255, w e = -1
_LERP_WEIGHT = 253.0 / 255.0
_LERP_END = torch.tensor(-255.0 / 253.0)


def gather_unit_range(images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``to_unit_range(images[index])`` on the CPU, a few images at a time (equal within 3e-7)."""
    out = torch.empty((len(index), *images.shape[1:]), dtype=torch.float32)
    chunk = max(1, CPU_CHUNK_VALUES // max(1, images[0].numel()))
    for start in range(0, len(index), chunk):
        part = out[start : start + chunk]
        part.copy_(images.index_select(0, index[start : start + chunk]))
        part.lerp_(_LERP_END, _LERP_WEIGHT)
    return out


class BatchStream:
    """Shuffled batches of a split, reproducible from ``(seed, epoch)`` and resumable mid-epoch.

    ``images`` are uint8 images (N, C, H, W) or float32 feature rows (N, D).

    Each epoch draws a permutation from a generator seeded with ``seed`` and the epoch number.
    With ``world_size > 1`` every rank takes every ``world_size``-th index of the permutation
    (after dropping the remainder, at most ``world_size - 1`` images per epoch), so ranks see
    disjoint shards of equal length and step in lockstep.

    ``sampling="random"`` draws each batch afresh instead: ``batch_size`` distinct indices at
    random from the whole split (f-CLSWGAN's release), from a generator seeded with ``seed``,
    the rank, the epoch and the batch's position, so a resumed run draws the same batches. An
    epoch then has as many batches as with the permutation, but an image may come twice in it
    or not at all.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        seed: int,
        device: torch.device | str = "cpu",
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
        sampling: str = "permutation",
    ):
        is_images = images.dtype == torch.uint8 and images.dim() == 4
        is_features = images.dtype == torch.float32 and images.dim() == 2
        if not (is_images or is_features):
            raise ValueError(
                "images must be uint8 (N, C, H, W) or features float32 (N, D), got "
                f"{images.dtype} {tuple(images.shape)}"
            )
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.seed = seed
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.sampling = sampling
        self.epoch = 0
        self.position = 0
        if len(self) == 0:
            raise UserError(
                f"{len(images)} images make no batch of {batch_size}"
                + (f" per rank across {world_size} ranks" if world_size > 1 else ""),
                hint="lower train.batch_size or add images",
            )

    def _shard_size(self) -> int:
        return len(self.images) // self.world_size

    def __len__(self) -> int:
        shard = self._shard_size()
        return shard // self.batch_size if self.drop_last else -(-shard // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """The indices this rank visits in ``epoch``, in order."""
        count = len(self.images)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        usable = self._shard_size() * self.world_size
        return order[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch from the current position; the position advances before each yield, so a
        state saved while a batch is in use resumes with the next one."""
        if self.position >= len(self):
            self.epoch, self.position = self.epoch + 1, 0
        order = self.order(self.epoch) if self.sampling == "permutation" else None
        while self.position < len(self):
            start = self.position * self.batch_size
            index = (
                order[start : start + self.batch_size]
                if order is not None
                else self.random_batch(self.epoch, self.position)
            )
            self.position += 1
            yield self._batch(index)
        self.epoch, self.position = self.epoch + 1, 0

    def random_batch(self, epoch: int, position: int) -> torch.Tensor:
        """The indices of batch ``position`` of ``epoch`` under ``sampling="random"``."""
        key = ((self.seed * 1_000_003 + self.rank) * 1_000_003 + epoch) * 1_000_003 + position
        generator = torch.Generator().manual_seed(key % 2**63)
        return torch.randperm(len(self.images), generator=generator)[: self.batch_size]

    def _batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        labels = self.labels.index_select(0, index.to(self.labels.device))
        on_cpu = self.device.type == "cpu" and self.images.device.type == "cpu"
        if on_cpu and self.images.dtype == torch.uint8:
            return gather_unit_range(self.images, index), labels
        images = self.images.index_select(0, index.to(self.images.device))
        non_blocking = self.device.type == "cuda" and images.device.type == "cpu"
        if non_blocking:
            images = images.pin_memory()
        images = images.to(self.device, non_blocking=non_blocking)
        return as_inputs(images), labels.to(self.device, non_blocking=non_blocking)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
