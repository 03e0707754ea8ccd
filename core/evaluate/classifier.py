"""A softmax classifier on fixed features, the generative route's final step.

Two recipes (:class:`SoftmaxRecipe`). zsk's (:data:`ZSK`): features standardised with the
training set's mean and spread, and the cross-entropy weighted by inverse class frequency, so a
few hundred imagined images of a class weigh as much as the many real images of a seen class;
calibrated stacking then corrects what bias remains. f-CLSWGAN's release (:data:`PUBLISHED`):
the features as given, no class weights, N(0, 0.02) weights and zero biases, Adam at 1e-3 with
β1 0.5 (its pre-trained classifier and its final ZSL and GZSL classifiers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

EPOCHS = 30


@dataclass(frozen=True)
class SoftmaxRecipe:
    """How :func:`fit_softmax` fits: the features' scaling, the loss, the optimiser, the batch."""

    standardise: bool
    class_weighted: bool
    learning_rate: float
    betas: tuple[float, float]
    weight_decay: float
    batch: int
    #: weights drawn from N(0, init_std) and zero biases; None: torch's default initialisation
    init_std: float | None
    #: at least this many steps, so a small set is still fitted
    min_steps: int = field(default=0)


ZSK = SoftmaxRecipe(True, True, 5e-3, (0.9, 0.999), 1e-4, 256, None, 500)
PUBLISHED = SoftmaxRecipe(False, False, 1e-3, (0.5, 0.999), 0.0, 100, 0.02)


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
    recipe: SoftmaxRecipe = ZSK,
) -> SoftmaxClassifier:
    """Train a softmax classifier over ``classes`` on ``features`` (N, D) with global ``labels``:
    ``epochs`` passes over the data (at least ``recipe.min_steps`` steps) as ``recipe`` says."""
    generator = torch.Generator().manual_seed(seed)
    position = {c: i for i, c in enumerate(classes)}
    targets = torch.tensor([position[int(c)] for c in labels], dtype=torch.long)
    weights = None
    if recipe.class_weighted:
        counts = torch.bincount(targets, minlength=len(classes)).clamp_min(1).to(torch.float32)
        weights = (len(targets) / (len(classes) * counts)).to(device)
    mean, scale = _standardisation(features, recipe.standardise)
    mean, scale = mean.to(device), scale.to(device)
    x = (features.to(device) - mean) / scale
    y = targets.to(device)
    linear = _linear(features.shape[1], len(classes), seed, recipe.init_std).to(device)
    optimizer = torch.optim.AdamW(
        linear.parameters(),
        lr=recipe.learning_rate,
        betas=recipe.betas,
        weight_decay=recipe.weight_decay,
    )
    size = recipe.batch
    per_epoch = math.ceil(len(x) / size)
    steps = max(epochs * per_epoch, recipe.min_steps)
    order = torch.empty(0, dtype=torch.long)
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(x), generator=generator).to(device)
        batch = order[(step % per_epoch) * size : (step % per_epoch + 1) * size]
        loss = F.cross_entropy(linear(x[batch]), y[batch], weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    linear.eval()
    return SoftmaxClassifier(list(classes), mean, scale, linear)


def _standardisation(
    features: torch.Tensor, standardise: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, scale) that the classifier subtracts and divides by: the training set's, or 0 and 1.

    A constant column (a ReLU feature that never fires on the training set) carries nothing;
    dividing it by ~0 would blow up any sample where it does fire, so it is left unscaled."""
    if not standardise:
        return torch.zeros(features.shape[1]), torch.ones(features.shape[1])
    spread = features.std(dim=0, unbiased=False)
    return features.mean(dim=0), torch.where(spread > 1e-6, spread, torch.ones_like(spread))


def _linear(inputs: int, outputs: int, seed: int, init_std: float | None) -> nn.Linear:
    """The classifier's layer, initialised from ``seed`` (torch's default, or N(0, init_std)
    weights and zero biases)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        linear = nn.Linear(inputs, outputs)
        if init_std is not None:
            nn.init.normal_(linear.weight, 0.0, init_std)
            nn.init.zeros_(linear.bias)
    return linear
