"""A plain zero-shot learner without a GAN, written by hand, that imports nothing from zsk.

Three strided convolutions embed an image; a linear map embeds a class's attributes; training
uses the report's cosine terms on real images only (own class pulled to cosine 1, other seen
classes' squared cosines pushed down, a softmax over seen classes). It trains for a budget of
process CPU seconds, and chooses GZSL's calibration constant like zsk's default path: on a
validation model trained without some seen classes (given the first share of the budget).

    python benchmarks/studies/zoo/baseline.py MANIFEST.json OUT.json --cpu-seconds 60 --seed 0

MANIFEST.json (written by benchmarks/studies/zoo/run.py) holds the class attributes, image size,
the seen/unseen classes and every image's path per split, the same split zsk's run uses.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

BATCH = 64


def load(paths: list[str], size: int) -> torch.Tensor:
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR))
              for p in paths]  # fmt: skip
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1


class Net(nn.Module):
    def __init__(self, attributes: int, dim: int = 64) -> None:
        super().__init__()
        layers, width = [], 3
        for out in (32, 64, 128):
            layers += [nn.Conv2d(width, out, 4, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            width = out
        self.phi = nn.Sequential(
            *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, dim)
        )
        self.psi = nn.Linear(attributes, dim)

    def scores(self, images: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Cosine of every image's embedding with every class's."""
        return F.normalize(self.phi(images), dim=1) @ F.normalize(self.psi(attributes), dim=1).T


def trainer(images, labels, classes, attributes, seed) -> tuple[Net, Callable[[], None]]:
    """A fresh net for ``classes`` and its training step (one batch of random ``images``)."""
    torch.manual_seed(seed)
    net = Net(attributes.shape[1])
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    index = {c: i for i, c in enumerate(classes)}
    targets = torch.tensor([index[int(y)] for y in labels])
    seen_attributes = attributes[classes]

    def step() -> None:
        batch = torch.randint(len(images), (BATCH,))
        x = images[batch]
        x = torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(3), x)
        cos = net.scores(x, seen_attributes)
        own = F.one_hot(targets[batch], len(classes)).bool()
        loss = (1 - cos[own]).mean() + 0.5 * (cos[~own] ** 2).mean()
        loss = loss + F.cross_entropy(cos * 10, targets[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    return net, step


def train(images, labels, classes, attributes, seconds, seed) -> Net:
    """Fit on ``images`` of ``classes`` until ``seconds`` of process CPU time are spent."""
    net, step = trainer(images, labels, classes, attributes, seed)
    start, steps = time.process_time(), 0
    while time.process_time() - start < seconds:
        step()
        steps += 1
    net.eval()
    net.steps = steps
    return net


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return float(np.mean([(predicted[labels == c] == c).float().mean() for c in labels.unique()]))


def gzsl(scores, labels, seen, gamma) -> tuple[float, float, float]:
    """u, s, H with ``gamma`` subtracted from seen classes' scores (calibrated stacking)."""
    scores = scores.clone()
    scores[:, seen] -= gamma
    predicted = scores.argmax(1)
    is_seen = torch.isin(labels, torch.tensor(seen))
    u = per_class_accuracy(predicted[~is_seen], labels[~is_seen])
    s = per_class_accuracy(predicted[is_seen], labels[is_seen])
    return u, s, 2 * u * s / (u + s) if u + s > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cpu-seconds", type=float, required=True)
    parser.add_argument("--validation-share", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = 0.0  # the budget counts the whole process, imports included, as zsk train's does
    m = json.loads(args.manifest.read_text())
    attributes, size = torch.tensor(m["attributes"], dtype=torch.float32), m["image_size"]
    split = {k: (load([p for p, _ in v], size), torch.tensor([y for _, y in v]))
             for k, v in m["images"].items()}  # fmt: skip
    loading = time.process_time() - started
    budget = args.cpu_seconds - loading
    # The validation model: trained without the held-out classes, chooses the constant.
    val = train(*split["val_fit"], m["val_seen"], attributes, budget * args.validation_share,
                args.seed)  # fmt: skip
    val_images = torch.cat([split["val_seen_images"][0], split["val_unseen_images"][0]])
    val_labels = torch.cat([split["val_seen_images"][1], split["val_unseen_images"][1]])
    with torch.no_grad():
        val_scores = val.scores(val_images, attributes)
    gammas = np.linspace(-0.5, 1.0, 151)
    val_h = [gzsl(val_scores, val_labels, m["val_seen"], g)[2] for g in gammas]
    gamma = float(gammas[int(np.argmax(val_h))])
    remaining = args.cpu_seconds - (time.process_time() - started)
    net = train(*split["train"], m["seen"], attributes, remaining, args.seed)
    unseen_images, unseen_labels = split["test_unseen"]
    with torch.no_grad():
        zsl = net.scores(unseen_images, attributes[m["unseen"]]).argmax(1)
    zsl_top1 = per_class_accuracy(torch.tensor(m["unseen"])[zsl], unseen_labels)
    test_images = torch.cat([split["test_seen"][0], unseen_images])
    test_labels = torch.cat([split["test_seen"][1], unseen_labels])
    with torch.no_grad():
        test_scores = net.scores(test_images, attributes)
    u, s, h = gzsl(test_scores, test_labels, m["seen"], gamma)
    result = {"zsl_top1": zsl_top1, "gzsl": {"u": u, "s": s, "h": h, "gamma": gamma},
              "validation_h": max(val_h), "steps": net.steps, "validation_steps": val.steps,
              "cpu_seconds": time.process_time() - started}  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
