"""Zero-shot metrics as pure functions of score matrices and labels (Xian et al. 2018).

Conventions: ``scores`` is (N, C) over C candidate classes (higher is more likely), ``labels``
(N,) holds column indices into ``scores``, and ``seen_mask`` (C,) is True for seen-class columns.
Accuracies are per-class averages: the mean over the classes present in ``labels`` of the
fraction of that class's images classified correctly, so a large class weighs no more than a
small one.

Calibrated stacking (Chao et al. 2016) subtracts a constant γ from every seen-class score before
the arg-max. An image is predicted unseen exactly when ``max_unseen > max_seen - γ``, i.e. when
``γ > d`` with ``d = max_seen - max_unseen``; sweeping γ therefore changes predictions only at
the N values of ``d``, which gives the whole seen/unseen curve in one sort.

The last part takes scores over *every* class of a data set in its global order, with global
class indices as labels: :func:`restrict` narrows both to a set of candidate classes (the unseen
ones for ZSL, the seen ones on the validation split), and :func:`calibrate` and
:func:`calibrated_gzsl` choose γ on validation scores and apply it to test scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zsk.core.evaluate.result import Accuracies, CalibrationRecord, GzslNumbers


def per_class_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of each class's top-1 accuracy."""
    if labels.numel() == 0:
        raise ValueError("per-class accuracy of an empty set of labels")
    correct = (predictions == labels).to(torch.float64)
    classes, inverse = torch.unique(labels, return_inverse=True)
    hits = torch.zeros(len(classes), dtype=torch.float64).index_add_(0, inverse, correct)
    counts = torch.bincount(inverse, minlength=len(classes)).to(torch.float64)
    return float((hits / counts).mean())


def harmonic_mean(u: float, s: float) -> float:
    """H = 2us / (u + s); 0 when both are 0."""
    return 0.0 if u + s == 0 else 2.0 * u * s / (u + s)


def calibrated_stacking(
    scores: torch.Tensor, seen_mask: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``scores`` with ``gamma`` subtracted from every seen-class column."""
    return scores - gamma * seen_mask.to(scores.dtype)


@dataclass(frozen=True)
class GzslResult:
    """Per-class accuracy on unseen-class images (u), on seen-class images (s), and H."""

    u: float
    s: float
    h: float


def gzsl_accuracy(
    scores: torch.Tensor, labels: torch.Tensor, seen_mask: torch.Tensor, gamma: float = 0.0
) -> GzslResult:
    """u, s and H of arg-max predictions over all classes after calibrated stacking by ``gamma``.

    ``labels`` must contain images of both seen and unseen classes.
    """
    predictions = calibrated_stacking(scores, seen_mask, gamma).argmax(dim=1)
    is_seen = seen_mask[labels]
    u = per_class_accuracy(predictions[~is_seen], labels[~is_seen])
    s = per_class_accuracy(predictions[is_seen], labels[is_seen])
    return GzslResult(u, s, harmonic_mean(u, s))


@dataclass(frozen=True)
class SeenUnseenCurve:
    """Every distinct (u, s) operating point of calibrated stacking, in increasing γ.

    ``gammas[k]`` is a constant that produces point k (a midpoint between the switching values
    around it, so it is robust when applied to other data); ``u`` rises and ``s`` falls along it.
    """

    gammas: torch.Tensor
    u: torch.Tensor
    s: torch.Tensor

    @property
    def h(self) -> torch.Tensor:
        total = self.u + self.s
        return torch.where(total > 0, 2 * self.u * self.s / total.clamp_min(1e-300), 0.0)


def _class_weights(labels: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Per image: 1 / (images of its class × classes in its group) for members, else 0.

    Summing these weights over correctly classified members gives their per-class accuracy.
    """
    weights = torch.zeros(len(labels), dtype=torch.float64)
    group = labels[members]
    if group.numel() == 0:
        return weights
    classes, inverse, counts = torch.unique(group, return_inverse=True, return_counts=True)
    weights[members] = 1.0 / (counts[inverse].to(torch.float64) * len(classes))
    return weights


def seen_unseen_curve(
    scores: torch.Tensor, labels: torch.Tensor, seen_mask: torch.Tensor
) -> SeenUnseenCurve:
    """The seen/unseen accuracy curve of calibrated stacking over every γ (Chao et al. 2016)."""
    scores = scores.to(torch.float64)
    if labels.numel() == 0:
        raise ValueError("the seen/unseen curve of an empty set of labels")
    if not bool(seen_mask.any()) or bool(seen_mask.all()):
        raise ValueError("the seen/unseen curve needs both seen and unseen candidate classes")
    seen_cols = torch.nonzero(seen_mask).squeeze(1)
    unseen_cols = torch.nonzero(~seen_mask).squeeze(1)
    best_seen, arg_seen = scores[:, seen_cols].max(dim=1)
    best_unseen, arg_unseen = scores[:, unseen_cols].max(dim=1)
    is_seen = seen_mask[labels]
    # correct if predicted among its own group (seen images when predicted seen, and vice versa)
    right_if_seen = (seen_cols[arg_seen] == labels) & is_seen
    right_if_unseen = (unseen_cols[arg_unseen] == labels) & ~is_seen
    u_gain = _class_weights(labels, ~is_seen) * right_if_unseen
    s_loss = _class_weights(labels, is_seen) * right_if_seen

    switch = best_seen - best_unseen  # predicted unseen iff gamma > switch
    values, inverse = torch.unique(switch, sorted=True, return_inverse=True)
    u_steps = torch.zeros(len(values), dtype=torch.float64).index_add_(0, inverse, u_gain)
    s_steps = torch.zeros(len(values), dtype=torch.float64).index_add_(0, inverse, s_loss)
    zero = torch.zeros(1, dtype=torch.float64)
    u = torch.cat([zero, torch.cumsum(u_steps, 0)])
    s = s_loss.sum() - torch.cat([zero, torch.cumsum(s_steps, 0)])
    margin = 1.0 + float(values.abs().max())
    edges = torch.cat([values[:1] - margin, values, values[-1:] + margin])
    gammas = torch.cat([edges[:1], (edges[1:-1] + edges[2:]) / 2])
    return SeenUnseenCurve(gammas=gammas, u=u.clamp(0, 1), s=s.clamp(0, 1))


def ausuc(u: torch.Tensor, s: torch.Tensor) -> float:
    """Area under the seen (y) against unseen (x) accuracy curve, by the trapezoid rule.

    The curve runs from (0, s at γ = −∞) to (u at γ = +∞, 0), so its ends are closed to the axes
    when they do not already lie on them.
    """
    order = torch.argsort(u, stable=True)
    x, y = u[order].to(torch.float64), s[order].to(torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    if float(x[0]) > 0:
        x, y = torch.cat([zero, x]), torch.cat([y[:1], y])
    if float(y[-1]) > 0:
        x, y = torch.cat([x, x[-1:]]), torch.cat([y, zero])
    return float(torch.trapezoid(y, x))


@dataclass(frozen=True)
class Calibration:
    """The calibration constant chosen on validation data and the validation scores it gave;
    ``chosen``: the constant as the validation network chose it, where ``gamma`` is that one
    carried into the evaluated run's scale (:mod:`zsk.core.evaluate.carry`)."""

    gamma: float
    u: float
    s: float
    h: float
    chosen: float | None = None

    def record(self, source: str) -> CalibrationRecord:
        """The constant and its validation numbers as eval.json keeps them, with ``source``
        (where the validation images came from)."""
        return CalibrationRecord(
            gamma=self.gamma,
            val_u=self.u,
            val_s=self.s,
            val_h=self.h,
            source=source,
            chosen_gamma=self.chosen,
        )


def choose_calibration(
    scores: torch.Tensor, labels: torch.Tensor, seen_mask: torch.Tensor
) -> Calibration:
    """The γ with the highest H on these (validation) scores; among ties, the γ nearest 0."""
    curve = seen_unseen_curve(scores, labels, seen_mask)
    h = curve.h
    k = best_nearest_zero(h, curve.gammas)
    return Calibration(float(curve.gammas[k]), float(curve.u[k]), float(curve.s[k]), float(h[k]))


def best_nearest_zero(h: torch.Tensor, gammas: torch.Tensor) -> int:
    """The index of the highest ``h``; among ties, of the constant of ``gammas`` nearest 0
    (the least correction the data asks for)."""
    best = torch.nonzero(h >= h.max() - 1e-12).squeeze(1)
    return int(best[torch.argmin(gammas[best].abs())])


# Scores over every class of a data set (global class indices as labels).


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
    source: str,
) -> GzslNumbers:
    """GZSL u, s, H on the test scores with a constant chosen beforehand on validation data
    (``source`` names that data).

    The test scores only receive the constant. AUSUC summarises the test curve over every
    constant, so it chooses nothing. ``uncalibrated`` gives u, s, H at constant 0.
    """
    classes = sorted(seen + unseen)
    narrow, positions = restrict(test_scores, test_labels, classes)
    mask = torch.tensor([c in set(seen) for c in classes])
    result = gzsl_accuracy(narrow, positions, mask, calibration.gamma)
    plain = gzsl_accuracy(narrow, positions, mask, 0.0)
    curve = seen_unseen_curve(narrow, positions, mask)
    return GzslNumbers(
        u=result.u,
        s=result.s,
        h=result.h,
        calibration=calibration.record(source),
        ausuc=ausuc(curve.u, curve.s),
        uncalibrated=Accuracies(u=plain.u, s=plain.s, h=plain.h),
    )
