"""Cross-fitted validation numbers: how well a route's way of choosing its settings does on
validation images it did not choose them on.

A route that chooses among many settings (the generative classifier's sizes, the combined
route's twenty weighings) on a few held-out classes looks better on those classes than it will
on others: the best of many noisy numbers is optimistic, and comparing routes by it favours the
route with the most choices. Cross-fitting removes that bias, grouped by held-out class: the
held-out classes are dealt into ``k`` folds (one class each, up to :data:`MOST_FOLDS`), the
seen-class images spread evenly over the same folds within each class, and the images of each
fold are predicted with the candidate and calibration constant the route chooses, exactly as it
does on all of them (:mod:`.merit`), on the other folds' images. The task is the validation
task throughout (every validation class a candidate); only which images choose and which are
judged changes. H and ZSL top-1 are then read once from the pooled out-of-fold predictions.
Since each choice sees all but one fold, it is nearly as well informed as the route's real
choice on all the images; judging on halves instead would make it pessimistic for the routes
with the most choices. The folds depend only on the validation labels and :data:`SEED`, so
every route of a run (and of a staged run's stages, which score the same images) is judged on
the same folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zsk.core.evaluate.merit import best, gzsl_merit, zsl_merit
from zsk.core.evaluate.protocol import (
    calibrated_stacking,
    harmonic_mean,
    per_class_accuracy,
    restrict,
)
from zsk.core.evaluate.result import CrossFitRecord

#: The most folds: with more held-out classes than this, each fold holds several.
MOST_FOLDS = 10
SEED = 0


def validation_folds(labels: torch.Tensor, seen: list[int], unseen: list[int]) -> torch.Tensor:
    """The fold (0 … k−1) of every validation image, ``k`` the number of held-out classes up to
    :data:`MOST_FOLDS` (see module); empty when there are fewer than two held-out classes."""
    folds = min(len(unseen), MOST_FOLDS)
    if folds < 2:
        return torch.empty(0, dtype=torch.long)
    generator = torch.Generator().manual_seed(SEED)
    fold = torch.full((len(labels),), -1, dtype=torch.long)
    order = torch.randperm(len(unseen), generator=generator).tolist()
    for position, k in enumerate(order):
        fold[labels == unseen[k]] = position % folds
    for label in seen:
        members = torch.nonzero(labels == label).squeeze(1)
        shuffled = members[torch.randperm(len(members), generator=generator)]
        start = int(torch.randint(folds, (1,), generator=generator))
        fold[shuffled] = (start + torch.arange(len(shuffled))) % folds
    return fold


def cross_fitted(
    candidates: Sequence[torch.Tensor],
    labels: torch.Tensor,
    seen: list[int],
    unseen: list[int],
    folds: torch.Tensor,
    zsl_by_gzsl: bool,
    distractors: Sequence[int] = (),
) -> CrossFitRecord | None:
    """H and ZSL top-1 of the pooled out-of-fold predictions over ``folds`` (from
    :func:`validation_folds`), each fold's images predicted by the candidate of ``candidates``
    (validation scores over every class, in the order the route tries them) chosen on the
    other folds: for GZSL by :func:`~.merit.gzsl_merit` with its constant, for ZSL by
    :func:`~.merit.zsl_merit`, or (``zsl_by_gzsl``: the route has one classifier for both
    tasks) the GZSL choice. ``distractors`` are GZSL candidates on the unseen side without
    images (:class:`~.embedding.CalibrationImages`). None without folds."""
    if folds.numel() == 0:
        return None
    unseen_side = unseen + list(distractors)
    classes = sorted(seen + unseen_side)
    positions = restrict(candidates[0], labels, classes)[1]
    seen_mask = torch.tensor([c in set(seen) for c in classes])
    is_unseen = ~seen_mask[positions]
    unseen_positions = restrict(candidates[0][is_unseen], labels[is_unseen], unseen)[1]
    gzsl = torch.empty_like(positions)
    zsl = torch.empty_like(unseen_positions)
    for k in range(int(folds.max()) + 1):
        judged, chosen_on = folds == k, folds != k
        merits = [
            gzsl_merit(s[chosen_on], labels[chosen_on], seen, unseen_side) for s in candidates
        ]
        pick = best([merit for _, merit in merits])
        narrow = restrict(candidates[pick][judged], labels[judged], classes)[0]
        stacked = calibrated_stacking(narrow, seen_mask, merits[pick][0].gamma)
        gzsl[judged] = stacked.argmax(dim=1)
        held = chosen_on & is_unseen
        if not zsl_by_gzsl:
            pick = best([zsl_merit(s[held], labels[held], unseen) for s in candidates])
        zsl[judged[is_unseen]] = restrict(
            candidates[pick][judged & is_unseen], labels[judged & is_unseen], unseen
        )[0].argmax(dim=1)
    u = per_class_accuracy(gzsl[is_unseen], positions[is_unseen])
    s = per_class_accuracy(gzsl[~is_unseen], positions[~is_unseen])
    return CrossFitRecord(
        h=harmonic_mean(u, s),
        zsl_top1=per_class_accuracy(zsl, unseen_positions),
        folds=int(folds.max()) + 1,
    )
