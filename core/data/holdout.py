"""Seen classes and images a validation run leaves out of training (the spec's ``holdout``).

The field's protocol (Xian et al. 2018) chooses hyper-parameters such as the calibration
constant of generalised ZSL on a split of the *seen* classes: some of them play the unseen
classes, and networks trained without them show the bias that a trained model has towards the
classes it was fitted on. :func:`apply_holdout` makes the data set of such a validation run: the
held-out classes leave the seen set (their images leave training), a share of every remaining
seen class's training images is kept aside, and both groups are recorded in
:class:`~zsk.core.components.zsl_data.Holdout` for ``zsk eval --calibrate-with``. Test images play
no part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from difflib import get_close_matches

import torch

from zsk.core.components.zsl_data import Holdout, ZslData
from zsk.registry import UserError


@dataclass(frozen=True)
class ClassSplit:
    """Indices into a list of training images, and the two groups of seen classes."""

    trained: list[int]
    held_out: list[int]
    fit: torch.Tensor
    val_seen: torch.Tensor
    val_unseen: torch.Tensor

    @property
    def val(self) -> torch.Tensor:
        return torch.cat([self.val_seen, self.val_unseen])


def unseen_share_count(num_seen: int, num_unseen: int) -> int:
    """Seen classes to hold out so they keep the data set's unseen share (AwA2: 8 of 40),
    at least one, and at least one class left to train on."""
    share = num_unseen / (num_unseen + num_seen)
    return min(num_seen - 1, max(1, round(num_seen * share)))


def split_seen_classes(
    train_labels: torch.Tensor,
    seen: list[int],
    held_out: int | list[int],
    image_share: float,
    seed: int,
) -> ClassSplit:
    """Hold out ``held_out`` classes of ``seen`` (a count drawn with ``seed``, or the classes)
    and ``image_share`` of each other seen class's images (at least one of a class with two)."""
    if len(seen) < 2:
        raise ValueError("holding out classes needs at least two seen classes")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(seen), generator=generator).tolist()
    held = sorted(
        set([seen[i] for i in order[:held_out]] if isinstance(held_out, int) else held_out)
    )
    trained = sorted(set(seen) - set(held))
    fit, val_seen = [], []
    for cls in trained:
        members = torch.nonzero(train_labels == cls).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        count = max(1, round(len(members) * image_share)) if len(members) > 1 else 0
        val_seen.append(members[:count])
        fit.append(members[count:])
    val_unseen = torch.nonzero(torch.isin(train_labels, torch.tensor(held))).squeeze(1)
    empty = torch.empty(0, dtype=torch.long)
    return ClassSplit(
        trained=trained,
        held_out=held,
        fit=torch.sort(torch.cat(fit or [empty])).values,
        val_seen=torch.sort(torch.cat(val_seen or [empty])).values,
        val_unseen=val_unseen,
    )


def _named_classes(data: ZslData, names: list[str]) -> list[int]:
    seen_names = [data.classes[c] for c in data.seen]
    chosen = []
    for name in names:
        if name not in seen_names:
            close = get_close_matches(name, seen_names, n=1)
            raise UserError(
                f"holdout.classes names '{name}', which is not a seen class of the data set"
                + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="name seen classes (zsk data check DIR lists them), or give a count",
            )
        chosen.append(data.classes.index(name))
    return chosen


def apply_holdout(
    data: ZslData, classes: int | list[str] | None, image_share: float, seed: int
) -> ZslData:
    """The data set a validation run trains on (see module); ``data`` itself is unchanged.

    ``classes=None`` holds out the data set's own validation classes when it names some (the
    benchmark files' ``val_loc`` classes), else its unseen share of the seen classes.
    """
    num_seen = len(data.seen)
    if classes is None and data.validation_classes:
        held: int | list[int] = list(data.validation_classes)
    elif classes is None:
        held = unseen_share_count(num_seen, len(data.unseen))
    elif isinstance(classes, int):
        if not 1 <= classes < num_seen:
            raise UserError(
                f"holdout.classes is {classes}, but the data set has {num_seen} seen classes",
                hint=f"hold out between 1 and {num_seen - 1} of them",
            )
        held = classes
    else:
        held = _named_classes(data, classes)
        if not 1 <= len(set(held)) < num_seen:
            raise UserError(
                f"holdout.classes names {len(set(held))} of the {num_seen} seen classes",
                hint=f"name between 1 and {num_seen - 1} distinct seen classes",
            )
    labels = torch.tensor([s.label for s in data.train], dtype=torch.long)
    split = split_seen_classes(labels, data.seen, held, image_share, seed)
    if len(split.val_seen) == 0:
        raise UserError(
            f"holdout.images={image_share} holds out no training image of the trained classes: "
            "each has only one",
            hint="a validation run needs seen-class images to calibrate on; add images",
        )
    keep_test = set(split.trained)
    return replace(
        data,
        seen=split.trained,
        train=[data.train[i] for i in split.fit.tolist()],
        test_seen=[s for s in data.test_seen if s.label in keep_test],
        holdout=Holdout(
            classes=split.held_out,
            seen_images=[data.train[i] for i in split.val_seen.tolist()],
            unseen_images=[data.train[i] for i in split.val_unseen.tolist()],
        ),
    )
