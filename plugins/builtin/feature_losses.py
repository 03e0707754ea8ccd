"""f-CLSWGAN's classification regulariser (Xian et al. CVPR 2018, eq. 4).

A softmax classifier over the seen classes is pre-trained on the real training features before
the GAN trains, then frozen; the generator is asked that each generated feature be classified
as the class it was made for: ``−mean log P(y | x̂; θ)``, with weight β in the generator's
objective (0.01 for AwA/CUB/SUN, 0.1 for FLO in the paper).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from zsk.core.components.interfaces import Dims, Loss, StepContext
from zsk.core.data.loader import as_inputs
from zsk.core.evaluate.classifier import PUBLISHED, ZSK, fit_softmax
from zsk.registry import UserError, hookimpl


class PretrainedClassifier(Loss):
    """Cross-entropy of a frozen softmax classifier, pre-trained on real seen-class training
    samples, on the fakes against the class each was made for (generator phase only).

    The classifier (a linear layer, :mod:`zsk.core.evaluate.classifier`) is fitted when training
    starts (:meth:`Loss.prepare`) and kept in buffers, so checkpoints carry it and a resumed run
    uses the same one. ``classifier`` says how: ``zsk`` on standardised features (class-weighted,
    AdamW 5e-3, batch 256), ``published`` as f-CLSWGAN's release fits it, on the features as the
    data set gives them (its scaling, e.g. MinMax, applied; no standardisation), Adam 1e-3 with
    β1 0.5, batch 100, N(0, 0.02) weights. The space matters: standardising divides each
    dimension by its spread, which multiplies the regulariser's gradient on low-variance
    dimensions relative to the critic's.
    """

    name = "pretrained_classifier"
    phases: ClassVar[frozenset[str]] = frozenset({"generator"})

    class Params(Loss.Params):
        epochs: int = Field(
            50, ge=1, description="passes of the classifier's pre-training over the real samples"
        )
        classifier: Literal["zsk", "published"] = Field(
            "zsk",
            description="how the classifier is fitted: 'zsk' (standardised features, class "
            "weights, AdamW 5e-3, batch 256) or 'published' (f-CLSWGAN's release: the features "
            "as given, Adam 1e-3 β1 0.5, batch 100, N(0, 0.02) weights)",
        )

    def __init__(self, params: Params, *, dims: Dims):
        super().__init__(params, dims=dims)
        if not dims.feature_dim:
            raise UserError(
                f"loss '{self.name}' works on feature vectors, but the data set holds images",
                hint="use it with a feature data set, or drop the term",
            )
        size, classes = dims.feature_dim, dims.num_seen_classes
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))
        self.register_buffer("weight", torch.zeros(classes, size))
        self.register_buffer("bias", torch.zeros(classes))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def prepare(self, real: torch.Tensor, labels: torch.Tensor) -> None:
        device = self.weight.device
        classes = list(range(self.dims.num_seen_classes))
        features = torch.cat([as_inputs(real[i : i + 4096]) for i in range(0, len(real), 4096)])
        recipe = PUBLISHED if self.params.classifier == "published" else ZSK
        classifier = fit_softmax(
            features, labels, classes, device, seed=0, epochs=self.params.epochs, recipe=recipe
        )
        with torch.no_grad():
            self.mean.copy_(classifier.mean)
            self.scale.copy_(classifier.scale)
            self.weight.copy_(classifier.linear.weight)
            self.bias.copy_(classifier.linear.bias)
            self.fitted.fill_(True)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The frozen classifier's seen-class logits of ``features`` (B, feature_dim)."""
        x = (features.flatten(1) - self.mean) / self.scale
        return F.linear(x, self.weight, self.bias)

    def forward(self, step: StepContext) -> torch.Tensor:
        if not bool(self.fitted):
            raise RuntimeError(f"loss '{self.name}' was used before prepare() fitted it")
        return F.cross_entropy(self.logits(step.fake()), step.labels("target"))


@hookimpl
def zsk_register_components(register):
    register(PretrainedClassifier)
