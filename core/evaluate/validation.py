"""The validation split on which calibrated stacking chooses its constant.

Choice: hold out *classes*. A random share of the seen classes becomes pseudo-unseen; all their
training images are validation images of "unseen" classes, and a share of the remaining
(pseudo-seen) classes' training images is held out as validation images of "seen" classes.
The constant corrects a bias between classes a classifier was fitted on with real images and
classes it knows only from attributes or imagined images; held-out images of fitted classes
alone cannot show that bias, held-out classes can. Only training images are used, so the test
images (test_seen, test_unseen) never influence the constant.

- Generative ZSL fits a validation classifier exactly as the final one but one level down: on
  real images of the pseudo-seen classes (minus the held-out ones) plus images imagined for the
  pseudo-unseen classes, so the validation bias mirrors the test-time bias.
- Embedding ZSL has nothing to refit: ``zsk train`` taught the discriminator every seen class,
  so the pseudo-unseen classes are familiar to it and the constant chosen there tends to
  underestimate the test-time bias. The calibration-free AUSUC is reported next to it.

The number of pseudo-unseen classes keeps the data set's own unseen share
(AwA2: 40 seen, 10 unseen -> 8 of the 40 seen classes), and at least one class stays on each side.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: share of each pseudo-seen class's training images held out as seen validation images
SEEN_HOLDOUT = 0.2


@dataclass(frozen=True)
class ValidationSplit:
    """Indices into the training images, and the two groups of seen classes."""

    pseudo_seen: list[int]
    pseudo_unseen: list[int]
    fit: torch.Tensor
    val_seen: torch.Tensor
    val_unseen: torch.Tensor

    @property
    def val(self) -> torch.Tensor:
        return torch.cat([self.val_seen, self.val_unseen])

    def as_dict(self) -> dict[str, object]:
        return {
            "pseudo_unseen_classes": self.pseudo_unseen,
            "validation_images": {"seen": len(self.val_seen), "unseen": len(self.val_unseen)},
        }


def pseudo_unseen_split(
    train_labels: torch.Tensor,
    seen: list[int],
    num_unseen: int,
    seed: int = 0,
) -> ValidationSplit:
    """Split the training images of the ``seen`` classes into fit / validation sets (see module)."""
    if len(seen) < 2:
        raise ValueError("a validation split needs at least two seen classes")
    generator = torch.Generator().manual_seed(seed)
    share = num_unseen / (num_unseen + len(seen))
    count = min(len(seen) - 1, max(1, round(len(seen) * share)))
    order = torch.randperm(len(seen), generator=generator).tolist()
    pseudo_unseen = sorted(seen[i] for i in order[:count])
    pseudo_seen = sorted(seen[i] for i in order[count:])
    fit, val_seen = [], []
    for cls in pseudo_seen:
        members = torch.nonzero(train_labels == cls).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        held = max(1, round(len(members) * SEEN_HOLDOUT)) if len(members) > 1 else 0
        val_seen.append(members[:held])
        fit.append(members[held:])
    val_unseen = torch.nonzero(torch.isin(train_labels, torch.tensor(pseudo_unseen))).squeeze(1)
    return ValidationSplit(
        pseudo_seen=pseudo_seen,
        pseudo_unseen=pseudo_unseen,
        fit=torch.sort(torch.cat(fit)).values,
        val_seen=torch.sort(torch.cat(val_seen)).values,
        val_unseen=val_unseen,
    )
