"""Carrying GZSL's constants from the validation networks into the evaluated run's scale.

The field chooses calibrated stacking's constant on a validation run (trained without some seen
classes) and applies it, as it is, to the run trained on all of them. The two networks need not
score on one scale: the full run has trained on more classes, for more steps, and the same
constant can leave it a very different seen-class accuracy (on the zoo's digits, 0.20 where the
validation run kept 0.41–0.54). Both networks trained on the classes the validation run trained
on. On a training sample of those classes, a route's *margin* (best seen-class score less best
unseen-side score) is the constant above which it is sent to the unseen side. The carried
constant sends the same share of the run's training samples of those classes to the unseen side
as the chosen one sends of the validation run's: it sits where it sat among the margins, on the
full run's own scale. Each network is read on its own training samples (a feature stage's
samples are its own recogniser's features of them), so every route carries the same way: the
embedding route, the generative route's classifier, and a combination of the two. No test
sample is read: only training samples and the classes' attributes.

``zsk eval`` carries by default (``--no-carry-constant``: as chosen, the field's protocol);
docs/method.md says what it measured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.evaluate.protocol import Calibration

#: Training samples each network's margins are read on, at most (drawn with the evaluation's
#: seed).
MARGIN_IMAGES = 3000


@dataclass(frozen=True)
class SharedScores:
    """A route's scores (N, C over every class) on training samples of the classes both
    networks trained on: the validation network's on a draw of its training split, the run's on
    a draw of its own (:func:`shared_draws`), with their labels."""

    validation: torch.Tensor
    validation_labels: torch.Tensor
    run: torch.Tensor
    run_labels: torch.Tensor

    @classmethod
    def read(
        cls,
        samples: tuple[LabelledImages, LabelledImages],
        validation_scores: Callable[[torch.Tensor], torch.Tensor],
        run_scores: Callable[[torch.Tensor], torch.Tensor],
    ) -> SharedScores:
        """A route's scores on ``samples`` (the validation run's draw, the run's draw): each
        draw's samples scored by its own network (``validation_scores``, ``run_scores``)."""
        judged, own = samples
        return cls(
            validation_scores(judged.images), judged.labels, run_scores(own.images), own.labels
        )

    def same_samples(self, other: SharedScores) -> bool:
        """Whether ``other`` scored the same samples (by their labels, in order): a feature
        stage's training samples are its source stage's, in the same order."""
        return torch.equal(self.validation_labels, other.validation_labels) and torch.equal(
            self.run_labels, other.run_labels
        )


def margins(scores: torch.Tensor, seen: list[int], unseen: list[int]) -> torch.Tensor:
    """Per image of ``scores`` (N, C over every class): its best score among ``seen`` less its
    best among ``unseen``."""
    return scores[:, seen].max(dim=1).values - scores[:, unseen].max(dim=1).values


def margin_sample(count: int, seed: int) -> torch.Tensor:
    """Which of ``count`` training images the margins are read on: all of them, or
    :data:`MARGIN_IMAGES` drawn with ``seed``."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[:MARGIN_IMAGES]


def shared_draws(
    validation_labels: torch.Tensor, run_labels: torch.Tensor, classes: list[int], seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of the validation run's training samples (``validation_labels``) and of the run's
    (``run_labels``) the margins are read on: of ``classes`` (those both trained on), at most
    :data:`MARGIN_IMAGES` of each, drawn with ``seed``. Stages with training splits in the
    same order get the same draws."""
    draws = []
    for labels in (validation_labels, run_labels):
        among = torch.isin(labels, torch.tensor(classes)).nonzero().view(-1)
        draws.append(among[margin_sample(len(among), seed)])
    return draws[0], draws[1]


def carried(
    calibration: Calibration, validation_margins: torch.Tensor, run_margins: torch.Tensor
) -> Calibration:
    """``calibration`` (chosen on the validation network) carried into the run's scale: the
    quantile of the run's margins at the share of the validation network's margins below the
    chosen constant (each network's on its own training samples of the classes both trained
    on). Its validation numbers stay those the
    constant gave where it was chosen, and ``chosen`` keeps that constant."""
    share = float((validation_margins < calibration.gamma).double().mean())
    gamma = float(torch.quantile(run_margins.double(), share))
    return dataclasses.replace(calibration, gamma=gamma, chosen=calibration.gamma)
