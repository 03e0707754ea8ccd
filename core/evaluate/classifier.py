"""A softmax classifier on fixed features, the generative route's final step.

Features are standardised with the training set's mean and spread, and the cross-entropy is
weighted by inverse class frequency, so a few hundred imagined images of a class weigh as much
as the many real images of a seen class; calibrated stacking then corrects what bias remains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EPOCHS = 30
MIN_STEPS = 500
BATCH = 256
LEARNING_RATE = 5e-3
WEIGHT_DECAY = 1e-4


@dataclass
class SoftmaxClassifier:
    """A linear layer over standardised features, predicting among ``classes`` (global ids)."""

    classes: list[int]
    mean: torch.Tensor
    scale: torch.Tensor
    linear: nn.Linear

    @torch.no_grad()
    def scores(self, features: torch.Tensor, num_classes: int) -> torch.Tensor:
        """Log-probabilities (N, num_classes) in global class order; -inf outside ``classes``."""
        device = self.linear.weight.device
        x = (features.to(device) - self.mean) / self.scale
        log_probs = F.log_softmax(self.linear(x), dim=1).cpu()
        full = torch.full((len(features), num_classes), float("-inf"))
        full[:, torch.tensor(self.classes)] = log_probs
        return full


def fit_softmax(
    features: torch.Tensor,
    labels: torch.Tensor,
    classes: list[int],
    device: torch.device,
    seed: int,
    epochs: int = EPOCHS,
) -> SoftmaxClassifier:
    """Train a softmax classifier over ``classes`` on ``features`` (N, D) with global ``labels``.

    ``epochs`` passes over the data, but at least ``MIN_STEPS`` steps, so a small set is
    still fitted.
    """
    generator = torch.Generator().manual_seed(seed)
    position = {c: i for i, c in enumerate(classes)}
    targets = torch.tensor([position[int(c)] for c in labels], dtype=torch.long)
    counts = torch.bincount(targets, minlength=len(classes)).clamp_min(1).to(torch.float32)
    weights = (len(targets) / (len(classes) * counts)).to(device)
    mean = features.mean(dim=0).to(device)
    spread = features.std(dim=0, unbiased=False)
    # a constant column (a ReLU feature that never fires on the training set) carries nothing;
    # dividing it by ~0 would blow up any sample where it does fire, so it is left unscaled
    scale = torch.where(spread > 1e-6, spread, torch.ones_like(spread)).to(device)
    x = (features.to(device) - mean) / scale
    y = targets.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        linear = nn.Linear(features.shape[1], len(classes)).to(device)
    optimizer = torch.optim.AdamW(linear.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    per_epoch = math.ceil(len(x) / BATCH)
    steps = max(epochs * per_epoch, MIN_STEPS)
    order = torch.empty(0, dtype=torch.long)
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(x), generator=generator).to(device)
        batch = order[(step % per_epoch) * BATCH : (step % per_epoch + 1) * BATCH]
        loss = F.cross_entropy(linear(x[batch]), y[batch], weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    linear.eval()
    return SoftmaxClassifier(list(classes), mean, scale, linear)
