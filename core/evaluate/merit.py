"""How a route compares its candidate settings on validation images: one rule for every route.

A candidate is a way of scoring the validation images (N, C over every class of the data set).
For GZSL its merit is the H its own best calibration constant reaches among the validation
classes; for ZSL, its top-1 accuracy among the held-out classes on their images. A few held-out
classes often leave several candidates equally accurate, so the mean log-likelihood of the true
classes breaks the tie, which still tells them apart; the first candidate wins where even that
ties.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from zsk.core.evaluate.protocol import Calibration, calibrate, restrict, zsl_top1

#: (accuracy, mean log-likelihood of the true classes): compared as a tuple.
Merit = tuple[float, float]
#: Decimals to which accuracies (and H) are compared. They are means of per-class accuracies,
#: so two candidates that classify every image alike can differ in the last bits of the sums
#: (0.9999999999999996 against 1.0); rounded, they are equal and the tie-break decides.
COMPARED_DECIMALS = 9


def log_likelihood(scores: torch.Tensor, labels: torch.Tensor, candidates: list[int]) -> float:
    """The mean log-probability of each image's true class among ``candidates``, the scores
    taken as log-probabilities up to a constant per image."""
    narrowed, positions = restrict(scores, labels, candidates)
    log_p = F.log_softmax(narrowed.double(), dim=1)
    return float(log_p.gather(1, positions.unsqueeze(1)).mean())


def gzsl_merit(
    scores: torch.Tensor, labels: torch.Tensor, seen: list[int], unseen: list[int]
) -> tuple[Calibration, Merit]:
    """The calibration with the best H among ``seen + unseen`` on these images, and the merit."""
    calibration = calibrate(scores, labels, seen, unseen)
    return calibration, (calibration.h, log_likelihood(scores, labels, sorted(seen + unseen)))


def zsl_merit(scores: torch.Tensor, labels: torch.Tensor, unseen: list[int]) -> Merit:
    """Top-1 among ``unseen`` and the likelihood there; ``labels`` are all of ``unseen``."""
    return zsl_top1(scores, labels, unseen), log_likelihood(scores, labels, unseen)


def best(merits: Sequence[Merit] | Sequence[float]) -> int:
    """The index of the best merit (or number); the first among equals (accuracies equal to
    :data:`COMPARED_DECIMALS` decimals)."""
    if not merits:
        raise ValueError("no candidates to choose among")
    return max(range(len(merits)), key=lambda k: (_compared(merits[k]), -k))


def _compared(merit: Merit | float) -> Merit | float:
    if isinstance(merit, tuple):
        accuracy, likelihood = merit
        return round(accuracy, COMPARED_DECIMALS), likelihood
    return round(merit, COMPARED_DECIMALS)
