"""Are the imagined images right? An independent judge of their attributes.

A small CNN is trained here, from scratch, on real seen-class training images only, to predict
each image's binarised class attributes. It then judges the images G imagined for the unseen
classes against their target attributes: the mean over predicates of the share of images whose
predicate it reads as the target says. The discriminator's own attribute head is not used: it
was trained against G and would be judging its own game.

For scale, the same judge is also scored on real test images: on seen classes (what it learnt)
and on unseen classes (how far its reading carries to classes it never saw, the ceiling that
imagined unseen images can reasonably reach).

The judge's recipe (1000 steps, flips, Gaussian pixel noise of std 0.2) was chosen on training
images only: judges fitted without a few seen classes were scored on those classes' images,
which measures what matters here, reading attributes of combinations never seen
(docs/studies.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import as_inputs
from zsk.core.evaluate.inference import batched

LEARNING_RATE = 1e-3
BATCH = 64
#: std of the Gaussian noise added to the judge's training images (in the [-1, 1] pixel range)
PIXEL_NOISE = 0.2


def binarize(attributes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Class attributes (C, A) as booleans, and the rule used.

    Binary data (only 0 and 1) is cut at 0.5; continuous data at each predicate's mean over
    all classes (a predicate is "on" for a class when its value is above the average class).
    """
    values = attributes.to(torch.float64)
    if bool(((values == 0) | (values == 1)).all()):
        return values > 0.5, "binary attributes, threshold 0.5"
    return values > values.mean(dim=0, keepdim=True), "per-predicate mean over classes"


class AttributeProbe(nn.Module):
    """Four stride-2 conv blocks (GroupNorm, ReLU), global average pooling, a linear layer."""

    def __init__(self, num_attributes: int, channels: int = 3, width: int = 32):
        super().__init__()
        widths = [width, width * 2, width * 4, width * 4]
        layers: list[nn.Module] = []
        previous = channels
        for out in widths:
            layers += [
                nn.Conv2d(previous, out, 3, stride=2, padding=1),
                nn.GroupNorm(8, out),
                nn.ReLU(),
            ]
            previous = out
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(previous, num_attributes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(images).mean(dim=(2, 3)))


def feature_probe(feature_dim: int, num_attributes: int, width: int = 256) -> nn.Module:
    """The judge of a feature run: one hidden layer (ReLU) over the feature vector."""
    return nn.Sequential(nn.Linear(feature_dim, width), nn.ReLU(), nn.Linear(width, num_attributes))


def train_probe(
    train: LabelledImages,
    binary: torch.Tensor,
    steps: int,
    device: torch.device,
    seed: int,
) -> nn.Module:
    """Fit the probe to the binarised attributes of each training image's class (for a feature
    run, :func:`feature_probe` on the feature vectors, without the image augmentations)."""
    generator = torch.Generator().manual_seed(seed)
    is_features = train.images.dim() == 2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if is_features:
            probe = feature_probe(train.images.shape[1], binary.shape[1]).to(device)
        else:
            probe = AttributeProbe(binary.shape[1], channels=train.images.shape[1]).to(device)
    targets = binary.to(torch.float32)
    optimizer = torch.optim.Adam(probe.parameters(), lr=LEARNING_RATE)
    probe.train()
    for _ in range(steps):
        picks = torch.randint(0, len(train), (min(BATCH, len(train)),), generator=generator)
        images = as_inputs(train.images[picks].to(device))
        if not is_features:
            flip = torch.rand(len(picks), generator=generator) < 0.5
            images[flip.to(device)] = images[flip.to(device)].flip(-1)
            noise = torch.randn(images.shape, generator=generator).to(device)
            images = images + PIXEL_NOISE * noise
        loss = F.binary_cross_entropy_with_logits(
            probe(images), targets[train.labels[picks]].to(device)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    probe.eval()
    return probe


def predicate_accuracy(
    probe: nn.Module,
    judged: LabelledImages,
    binary: torch.Tensor,
    device: torch.device,
    batch_size: int,
) -> torch.Tensor:
    """Per predicate, the share of ``judged`` images read as their class's target says."""
    predicted = batched(probe, judged.images, device, batch_size) > 0
    return (predicted == binary[judged.labels]).to(torch.float64).mean(dim=0)


def attribute_accuracy(
    probe: nn.Module,
    judged: LabelledImages,
    binary: torch.Tensor,
    device: torch.device,
    batch_size: int,
) -> float:
    """Mean over predicates of :func:`predicate_accuracy`."""
    return float(predicate_accuracy(probe, judged, binary, device, batch_size).mean())
