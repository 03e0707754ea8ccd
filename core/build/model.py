"""The built networks and objectives of one run, as plain containers the trainer drives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from torch import nn

from zsk.core.components.interfaces import (
    Dims,
    Generator,
    Head,
    Loss,
    Phase,
    SemanticEncoder,
    Source,
    Trunk,
)
from zsk.core.spec.sections import PHASES, Problem, SpecError


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


@dataclass(frozen=True)
class AuxiliaryTerm:
    """A head's own loss term (:meth:`Head.auxiliary_loss`) on one source's samples, weight 1."""

    role: str
    source: Source

    @property
    def name(self) -> str:
        """The name the term is logged under, its sources summed: ``heads.<role>.auxiliary``."""
        return f"heads.{self.role}.auxiliary"


def auxiliary_terms(heads: Mapping[str, Head]) -> dict[Phase, list[AuxiliaryTerm]]:
    """Each phase's head terms, as the heads declare them (:meth:`Head.auxiliary_sources`)."""
    terms: dict[Phase, list[AuxiliaryTerm]] = {}
    for phase in PHASES:
        terms[phase] = []
        for role, head in heads.items():
            sources = tuple(head.auxiliary_sources(phase))
            unknown = [s for s in sources if s not in get_args(Source)]
            if unknown:
                problem = f"head '{head.name}' declares auxiliary sources {unknown} for {phase}"
                hint = "auxiliary_sources returns a tuple of 'real' and 'fake'"
                raise SpecError([Problem(("model", "heads", role), problem, hint)])
            terms[phase] += [AuxiliaryTerm(role, source) for source in sources]
    return terms


@dataclass
class Objective:
    """The terms of the discriminator's and the generator's losses: the spec's weighted terms,
    and the heads' own terms each phase adds (``auxiliary``, declared by the heads)."""

    discriminator: list[WeightedTerm]
    generator: list[WeightedTerm]
    auxiliary: dict[Phase, list[AuxiliaryTerm]]

    def named_losses(self) -> list[tuple[str, Loss]]:
        """Each term's loss by its stable name, ``objective.{phase}.{index}``: the prefix of its
        tensors in ``init.safetensors`` and in checkpoints."""
        return [
            (f"objective.{phase}.{index}", term.loss)
            for phase in ("discriminator", "generator")
            for index, term in enumerate(getattr(self, phase))
        ]
