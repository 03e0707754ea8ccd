"""Carrying GZSL's embedding constant from the validation network into the evaluated run's scale.

The field chooses calibrated stacking's constant on a validation run (trained without some seen
classes) and applies it, as it is, to the run trained on all of them. The two networks need not
score on one scale: the full run has trained on more classes, for more steps, and the same
constant can leave it a very different seen-class accuracy (on the zoo's digits, 0.20 where the
validation run kept 0.41–0.54). Both networks trained on the validation run's training images.
On each such image, its *margin* (best seen-class score less best unseen-side score) is the
constant above which it is sent to the unseen side. The carried constant sends the same share
of those images to the unseen side in the full run as the chosen one does in the validation
network: it sits where it sat among the same images' margins, on the full run's own scale. No
test image is read: only training images and the classes' attributes.

It is an option, ``zsk eval --carry-constant``; docs/method.md says what it measured.
"""

from __future__ import annotations

import dataclasses

import torch

from zsk.core.evaluate.protocol import Calibration

#: Training images the margins are read on, at most (drawn once, with the evaluation's seed).
MARGIN_IMAGES = 3000


def margins(scores: torch.Tensor, seen: list[int], unseen: list[int]) -> torch.Tensor:
    """Per image of ``scores`` (N, C over every class): its best score among ``seen`` less its
    best among ``unseen``."""
    return scores[:, seen].max(dim=1).values - scores[:, unseen].max(dim=1).values


def margin_sample(count: int, seed: int) -> torch.Tensor:
    """Which of ``count`` training images the margins are read on: all of them, or
    :data:`MARGIN_IMAGES` drawn with ``seed``."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[:MARGIN_IMAGES]


def carried(
    calibration: Calibration, validation_margins: torch.Tensor, run_margins: torch.Tensor
) -> Calibration:
    """``calibration`` (chosen on the validation network) carried into the run's scale: the
    quantile of the run's margins at the share of the validation network's margins below the
    chosen constant (the same images' margins in each). Its validation numbers stay those the
    constant gave where it was chosen, and ``chosen`` keeps that constant."""
    share = float((validation_margins < calibration.gamma).double().mean())
    gamma = float(torch.quantile(run_margins.double(), share))
    return dataclasses.replace(calibration, gamma=gamma, chosen=calibration.gamma)
