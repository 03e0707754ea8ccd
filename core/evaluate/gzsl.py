"""Zero-shot and generalised zero-shot results from scores over classes, calibrated on validation.

Scores here are (N, C) over every class of the data set in its global order, and labels are
global class indices. :func:`restrict` narrows both to a set of candidate classes (the unseen
ones for ZSL, the seen ones on the validation split).
"""

from __future__ import annotations

import torch

from zsk.core.evaluate.metrics import (
    Calibration,
    ausuc,
    choose_calibration,
    gzsl_accuracy,
    per_class_accuracy,
    seen_unseen_curve,
)


def restrict(
    scores: torch.Tensor, labels: torch.Tensor, candidates: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores over ``candidates`` only, and labels as positions in ``candidates``."""
    columns = torch.tensor(candidates, dtype=torch.long)
    position = torch.full((scores.shape[1],), -1, dtype=torch.long)
    position[columns] = torch.arange(len(candidates))
    mapped = position[labels]
    if bool((mapped < 0).any()):
        raise ValueError("some labels are not among the candidate classes")
    return scores[:, columns], mapped


def zsl_top1(scores: torch.Tensor, labels: torch.Tensor, unseen: list[int]) -> float:
    """Per-class top-1 accuracy predicting among the unseen classes only."""
    narrowed, positions = restrict(scores, labels, unseen)
    return per_class_accuracy(narrowed.argmax(dim=1), positions)


def calibrate(
    val_scores: torch.Tensor,
    val_labels: torch.Tensor,
    val_seen: list[int],
    val_unseen: list[int],
) -> Calibration:
    """The constant that maximises H on validation scores among ``val_seen + val_unseen``."""
    val_classes = sorted(val_seen + val_unseen)
    val_narrow, val_positions = restrict(val_scores, val_labels, val_classes)
    val_mask = torch.tensor([c in set(val_seen) for c in val_classes])
    return choose_calibration(val_narrow, val_positions, val_mask)


def calibrated_gzsl(
    calibration: Calibration,
    test_scores: torch.Tensor,
    test_labels: torch.Tensor,
    seen: list[int],
    unseen: list[int],
) -> dict[str, object]:
    """GZSL u, s, H on the test scores with a constant chosen beforehand on validation data.

    The test scores only receive the constant. AUSUC summarises the test curve over every
    constant, so it chooses nothing. ``uncalibrated`` gives u, s, H at constant 0.
    """
    classes = sorted(seen + unseen)
    narrow, positions = restrict(test_scores, test_labels, classes)
    mask = torch.tensor([c in set(seen) for c in classes])
    result = gzsl_accuracy(narrow, positions, mask, calibration.gamma)
    plain = gzsl_accuracy(narrow, positions, mask, 0.0)
    curve = seen_unseen_curve(narrow, positions, mask)
    return {
        "u": result.u,
        "s": result.s,
        "h": result.h,
        "calibration": calibration.as_dict(),
        "ausuc": ausuc(curve.u, curve.s),
        "uncalibrated": {"u": plain.u, "s": plain.s, "h": plain.h},
    }
