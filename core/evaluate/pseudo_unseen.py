"""The validation split of a run's own training images, where no validation run is given.

Calibrated stacking needs classes that play the unseen ones. The honest source is a validation
run (spec section ``holdout``, ``zsk eval --calibrate-with``): networks trained without some seen
classes. Without one, a random share of the seen classes becomes *pseudo-unseen* here: all their
training images are validation images of "unseen" classes, and a share of the remaining
(pseudo-seen) classes' training images is held out as validation images of "seen" classes.
Only training images are used, so the test images never influence a constant.

- Generative ZSL fits a validation classifier exactly as the final one but one level down: on
  real images of the pseudo-seen classes (minus the held-out ones) plus images imagined for the
  pseudo-unseen classes, so the validation bias mirrors the test-time bias.
- Embedding ZSL has nothing to refit: ``zsk train`` taught the discriminator every seen class,
  so the pseudo-unseen classes are familiar to it and the constant chosen here underestimates
  the test-time bias (measured in BENCHMARKS.md). ``eval.json`` names the source it used.

The number of pseudo-unseen classes keeps the data set's own unseen share
(AwA2: 40 seen, 10 unseen -> 8 of the 40 seen classes), and at least one class stays on each side.
"""

from __future__ import annotations

import torch

from zsk.core.data.holdout import ClassSplit, split_seen_classes, unseen_share_count

#: share of each pseudo-seen class's training images held out as seen validation images
SEEN_HOLDOUT = 0.2


def pseudo_unseen_split(
    train_labels: torch.Tensor,
    seen: list[int],
    num_unseen: int,
    seed: int = 0,
) -> ClassSplit:
    """Split the training images of the ``seen`` classes into fit / validation sets (see module)."""
    count = unseen_share_count(len(seen), num_unseen)
    return split_seen_classes(train_labels, seen, count, SEEN_HOLDOUT, seed)
