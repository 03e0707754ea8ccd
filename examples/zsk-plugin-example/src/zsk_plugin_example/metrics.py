"""A metric: how far the imagined images' colours are from the real ones, class by class."""

from __future__ import annotations

import torch
from zsk.api import Metric, MetricInputs, MetricValue


class ColourGap(Metric):
    """Mean colour gap: per unseen class, the distance of imagined from real mean RGB (0–255).

    For each unseen class with both real test images and imagined images, the Euclidean
    distance between the two sets' mean RGB colours; then the mean over those classes. A
    generator that draws a class in the wrong colour or on the wrong background shows a gap.
    """

    name = "colour_gap"

    def compute(self, inputs: MetricInputs) -> dict[str, MetricValue]:
        gaps = []
        for label in inputs.data.unseen:
            real = inputs.test_unseen.images[inputs.test_unseen.labels == label]
            imagined = inputs.imagined.images[inputs.imagined.labels == label]
            if len(real) and len(imagined):
                gaps.append(torch.dist(_mean_colour(real), _mean_colour(imagined)))
        if not gaps:
            return {"colour_gap": None, "classes": 0}
        return {"colour_gap": float(torch.stack(gaps).mean()), "classes": len(gaps)}


def _mean_colour(images: torch.Tensor) -> torch.Tensor:
    """Mean RGB (3,) of uint8 images (N, 3, S, S)."""
    return images.double().mean(dim=(0, 2, 3))
