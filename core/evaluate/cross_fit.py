"""Cross-fitted validation numbers: how well a route's way of choosing its settings does on
validation images it did not choose them on.

A route that chooses among many settings (the generative classifier's sizes, the combined
route's twenty weighings) on a few held-out classes looks better on those classes than it will
on others: the best of many noisy numbers is optimistic, and comparing routes by it favours the
route with the most choices. Cross-fitting removes that bias. The validation images are split in
two halves; the route chooses its candidate and calibration constant on one half exactly as it
does on all of them (:mod:`.merit`), and is judged on the other half; both directions of
:data:`SPLITS` random splits are averaged. With at least :data:`LEAST_CLASSES_TO_SPLIT` held-out
classes the halves hold different held-out classes, as test classes differ from validation
ones; with fewer, each held-out class's images are halved. Seen-class images are always halved
within each class. The splits depend only on the validation labels and :data:`SEED`, so every
route of a run (and of a staged run's stages, which score the same images) is judged on the
same halves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zsk.core.evaluate.merit import best, gzsl_merit, zsl_merit
from zsk.core.evaluate.protocol import gzsl_accuracy, restrict, zsl_top1
from zsk.core.evaluate.result import CrossFitRecord

#: Random splits of the validation images, each judged in both directions.
SPLITS = 5
#: Held-out classes needed to split them between the halves (two or more per half).
LEAST_CLASSES_TO_SPLIT = 4
SEED = 0


@dataclass(frozen=True)
class Half:
    """Images of one half (a mask over the validation images) and its held-out classes."""

    images: torch.Tensor
    unseen: list[int]


@dataclass(frozen=True)
class Fold:
    """Choose on one half, judge on the other."""

    choose: Half
    judge: Half


def _halve_within_classes(
    labels: torch.Tensor, classes: list[int], generator: torch.Generator
) -> torch.Tensor:
    """A mask holding a random half of each class's images (the odd one to either side)."""
    first = torch.zeros(len(labels), dtype=torch.bool)
    for label in classes:
        members = torch.nonzero(labels == label).squeeze(1)
        count = (len(members) + int(torch.randint(2, (1,), generator=generator))) // 2
        first[members[torch.randperm(len(members), generator=generator)[:count]]] = True
    return first


def validation_folds(
    labels: torch.Tensor, seen: list[int], unseen: list[int], splits: int = SPLITS
) -> list[Fold]:
    """Both directions of ``splits`` random splits of the validation images (see module); a
    direction whose halves lack seen or held-out images is left out."""
    generator = torch.Generator().manual_seed(SEED)
    by_class = len(unseen) >= LEAST_CLASSES_TO_SPLIT
    is_unseen = torch.isin(labels, torch.tensor(unseen))
    folds = []
    for _ in range(splits):
        first = _halve_within_classes(labels, seen, generator)
        if by_class:
            order = torch.randperm(len(unseen), generator=generator).tolist()
            held = [unseen[k] for k in order[: len(unseen) // 2]]
            first |= torch.isin(labels, torch.tensor(held))
        else:
            first |= _halve_within_classes(labels, unseen, generator)
        halves = [_half(first, labels, is_unseen), _half(~first, labels, is_unseen)]
        if all(_usable(half, labels, is_unseen) for half in halves):
            folds += [Fold(halves[0], halves[1]), Fold(halves[1], halves[0])]
    return folds


def _half(images: torch.Tensor, labels: torch.Tensor, is_unseen: torch.Tensor) -> Half:
    return Half(images, sorted(set(labels[images & is_unseen].tolist())))


def _usable(half: Half, labels: torch.Tensor, is_unseen: torch.Tensor) -> bool:
    return bool((half.images & ~is_unseen).any()) and bool(half.unseen)


def cross_fitted(
    candidates: Sequence[torch.Tensor],
    labels: torch.Tensor,
    seen: list[int],
    folds: list[Fold],
    zsl_by_gzsl: bool,
) -> CrossFitRecord | None:
    """The mean over ``folds`` of the judged half's calibrated H and ZSL top-1, each candidate
    of ``candidates`` (validation scores over every class, in the order the route tries them)
    chosen on the other half: for GZSL by :func:`~.merit.gzsl_merit`, for ZSL by
    :func:`~.merit.zsl_merit`, or (``zsl_by_gzsl``: the route has one classifier for both
    tasks) the GZSL choice. None without folds."""
    if not folds:
        return None
    h, zsl = [], []
    for fold in folds:
        choose, judge = fold.choose, fold.judge
        chosen = [
            gzsl_merit(scores[choose.images], labels[choose.images], seen, choose.unseen)
            for scores in candidates
        ]
        k = best([merit for _, merit in chosen])
        on_judge = candidates[k][judge.images]
        classes = sorted(seen + judge.unseen)
        narrow, positions = restrict(on_judge, labels[judge.images], classes)
        seen_mask = torch.tensor([c in set(seen) for c in classes])
        h.append(gzsl_accuracy(narrow, positions, seen_mask, chosen[k][0].gamma).h)
        k_zsl = k if zsl_by_gzsl else _zsl_choice(candidates, labels, choose)
        judged = _unseen_images(judge, labels)
        zsl.append(zsl_top1(candidates[k_zsl][judged], labels[judged], judge.unseen))
    return CrossFitRecord(h=sum(h) / len(h), zsl_top1=sum(zsl) / len(zsl), folds=len(folds))


def _unseen_images(half: Half, labels: torch.Tensor) -> torch.Tensor:
    return half.images & torch.isin(labels, torch.tensor(half.unseen))


def _zsl_choice(candidates: Sequence[torch.Tensor], labels: torch.Tensor, half: Half) -> int:
    images = _unseen_images(half, labels)
    return best([zsl_merit(scores[images], labels[images], half.unseen) for scores in candidates])
