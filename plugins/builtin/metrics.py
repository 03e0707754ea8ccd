"""Built-in metrics: FID and KID of imagined unseen-class images, as published numbers use them."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from zsk.core.components.interfaces import Metric, MetricValue
from zsk.core.components.metric_inputs import MetricInputs
from zsk.core.evaluate.fid import default_weights, inception_features, load_extractor
from zsk.registry import hookimpl


class InceptionDistances(Metric):
    """FID and KID of imagined against real unseen-class images (TF-Inception, torch-fidelity).

    Features are torch-fidelity's port of the TensorFlow Inception network (the one published
    FID/KID numbers use), and the distances are torch-fidelity's own: FID from the two sets'
    feature means and covariances, KID as the mean (and spread) of the unbiased polynomial-kernel
    MMD² over random subsets. Small sets give biased FID (it shrinks with more images); compare
    numbers at equal image counts.
    """

    name = "fid"

    class Params(Metric.Params):
        weights: str | None = Field(
            None,
            description="local TF-Inception weights (weights-inception-2015-12-05-6726825d.pth, "
            "or a .safetensors copy); default: torch hub's checkpoints folder",
        )
        kid_subsets: int = Field(100, ge=1, description="random subsets KID averages over")
        kid_subset_size: int = Field(
            1000, ge=2, description="images per KID subset (fewer when a set is smaller)"
        )

    def __init__(self, params: Params):
        super().__init__(params)
        self.weights = Path(params.weights).expanduser() if params.weights else default_weights()
        self.extractor = load_extractor(self.weights)

    def compute(self, inputs: MetricInputs) -> dict[str, MetricValue]:
        real, imagined = inputs.test_unseen.images, inputs.imagined.images
        if min(len(real), len(imagined)) < 2:
            return {"fid": None, "kid": None, "kid_std": None, "unavailable": "fewer than 2 images"}
        features = [
            inception_features(self.extractor, images, inputs.device, inputs.batch_size)
            for images in (real, imagined)
        ]
        return {
            **self.distances(*features, seed=inputs.seed),
            "real_images": len(real),
            "imagined_images": len(imagined),
        }

    def distances(self, real: torch.Tensor, imagined: torch.Tensor, seed: int) -> dict[str, float]:
        """FID, KID and KID's spread over subsets of two feature sets, by torch-fidelity."""
        from torch_fidelity.metric_fid import (
            KEY_METRIC_FID,
            fid_features_to_statistics,
            fid_statistics_to_metric,
        )
        from torch_fidelity.metric_kid import (
            KEY_METRIC_KID_MEAN,
            KEY_METRIC_KID_STD,
            kid_features_to_metric,
        )

        real, imagined = real.double(), imagined.double()
        statistics = [fid_features_to_statistics(f) for f in (real, imagined)]
        fid = fid_statistics_to_metric(*statistics, verbose=False)[KEY_METRIC_FID]
        kid = kid_features_to_metric(
            real,
            imagined,
            kid_subsets=self.params.kid_subsets,
            kid_subset_size=min(self.params.kid_subset_size, len(real), len(imagined)),
            rng_seed=seed,
            verbose=False,
        )
        return {"fid": fid, "kid": kid[KEY_METRIC_KID_MEAN], "kid_std": kid[KEY_METRIC_KID_STD]}


@hookimpl
def zsk_register_components(register):
    register(InceptionDistances)
