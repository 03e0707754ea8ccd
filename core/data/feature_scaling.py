"""Scaling of a feature data set's features, fitted on its training samples only.

f-CLSWGAN's release scales every feature dimension to [0, 1] with the minimum and maximum over
the trainval features (its ``--preprocessing``: scikit-learn's MinMaxScaler) and applies the same
map to the test features, which may then fall outside [0, 1]; its generator's ReLU output and
its classifiers work in that space. ``standardise`` subtracts the training mean and divides by
the training standard deviation instead. Fitting on the training samples only keeps the test
features out of the choice; a dimension that is constant on them is shifted and not divided
(as scikit-learn does), so a feature that never fires in training cannot blow up.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import torch

from zsk.core.components.zsl_data import ZslData

FeatureScaling = Literal["none", "minmax", "standardise"]
SCALING_HELP = (
    "how each feature dimension is scaled, fitted on the training samples only: 'none' (as "
    "stored), 'minmax' (to [0, 1] over the training samples: f-CLSWGAN's --preprocessing) or "
    "'standardise' (zero mean, unit standard deviation over the training samples)"
)


def fit_scaling(train: torch.Tensor, how: FeatureScaling) -> tuple[torch.Tensor, torch.Tensor]:
    """``(shift, scale)`` of ``how`` fitted on ``train`` (N, D): scaled = (x − shift) / scale."""
    train = train.to(torch.float64)
    if how == "minmax":
        shift = train.min(dim=0).values
        spread = train.max(dim=0).values - shift
    elif how == "standardise":
        shift = train.mean(dim=0)
        spread = train.std(dim=0, unbiased=False)
    else:
        raise ValueError(f"unknown feature scaling {how!r}")
    scale = torch.where(spread > 0, spread, torch.ones_like(spread))
    return shift, scale


def scale_features(data: ZslData, how: FeatureScaling) -> ZslData:
    """``data`` with every feature row scaled by ``how`` fitted on ``data.train``'s rows."""
    if how == "none":
        return data
    if data.features is None:
        raise ValueError("only a feature data set has features to scale")
    rows = torch.tensor([sample.row for sample in data.train], dtype=torch.long)
    shift, scale = fit_scaling(data.features[rows], how)
    scaled = (data.features.to(torch.float64) - shift) / scale
    return replace(data, features=scaled.to(torch.float32).contiguous())
