"""The built networks and objectives of one run, as plain containers the trainer drives."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from zsk.core.components.interfaces import Dims, Generator, Head, Loss, SemanticEncoder, Trunk


class Discriminator(nn.Module):
    """The trunk and its heads by role."""

    def __init__(self, trunk: Trunk, heads: dict[str, Head]):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleDict(heads)


class GAN(nn.Module):
    """Generator, discriminator and semantic encoder; ``state_dict`` keys are stable names."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        semantic_encoder: SemanticEncoder,
        dims: Dims,
    ):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.semantic_encoder = semantic_encoder
        self.dims = dims


@dataclass
class WeightedTerm:
    """One loss term of an objective, as the spec names it."""

    name: str
    loss: Loss
    weight: float


@dataclass
class Objective:
    """The terms of the discriminator's and the generator's losses."""

    discriminator: list[WeightedTerm]
    generator: list[WeightedTerm]

    def named_losses(self) -> list[tuple[str, Loss]]:
        """Each term's loss by its stable name, ``objective.{phase}.{index}``: the prefix of its
        tensors in ``init.safetensors`` and in checkpoints."""
        return [
            (f"objective.{phase}.{index}", term.loss)
            for phase in ("discriminator", "generator")
            for index, term in enumerate(getattr(self, phase))
        ]
