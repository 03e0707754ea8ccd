"""Running a trained GAN's parts in batches: image scaling, embeddings, trunk features, imagining.

Every function runs under ``torch.no_grad`` and expects the networks in eval mode (dropout off,
batch-norm statistics frozen), as :func:`zsk.core.evaluate.trained.load_trained` leaves them.
Images travel as uint8 (N, 3, S, S) on the CPU and are moved to ``device`` one batch at a time,
so a whole data set never has to fit in accelerator memory. A feature run's samples travel as
float32 rows (N, D) the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from zsk.core.build.model import GAN
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import as_inputs
from zsk.registry import UserError

DEFAULT_BATCH = 128


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float [-1, 1] images as uint8 [0, 255] on the CPU."""
    return ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).cpu()


@torch.no_grad()
def batched(
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    device: torch.device,
    batch_size: int = DEFAULT_BATCH,
) -> torch.Tensor:
    """``fn`` over ``images`` in batches (uint8 images scaled to [-1, 1] on ``device``; feature
    rows as they are), on the CPU."""
    outputs = [
        fn(as_inputs(images[start : start + batch_size].to(device))).float().cpu()
        for start in range(0, len(images), batch_size)
    ]
    if not outputs:
        raise ValueError("no images to run")
    return torch.cat(outputs)


def head(gan: GAN, role: str) -> nn.Module:
    """The discriminator's head of ``role``, or a UserError naming the spec key to add."""
    heads = gan.discriminator.heads
    if role not in heads:
        raise UserError(
            f"this run's discriminator has no '{role}' head, which the evaluation needs",
            where="model.heads",
            hint=f"add a head under model.heads.{role} and train again",
        )
    return heads[role]


def embed_images(
    gan: GAN, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """φ(x): the embedding head on trunk features, (N, embedding_dim)."""
    embedding = head(gan, "embedding")
    return batched(
        lambda x: embedding(gan.discriminator.trunk(x)).flatten(1), images, device, batch_size
    )


@torch.no_grad()
def embed_attributes(gan: GAN, attributes: torch.Tensor, device: torch.device) -> torch.Tensor:
    """ψ(t): the semantic encoder on class attribute rows, (C, embedding_dim)."""
    return gan.semantic_encoder(attributes.to(device, torch.float32)).float().cpu()


def cosine_scores(embeddings: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
    """(N, C) cosine similarities (normalised by the L2 norm, not its square as the notebook)."""
    return F.normalize(embeddings, dim=1) @ F.normalize(class_embeddings, dim=1).T


def pooled_features(
    gan: GAN, images: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """The discriminator trunk's features, averaged over positions: (N, C)."""
    return batched(
        lambda x: gan.discriminator.trunk(x).mean(dim=(2, 3)), images, device, batch_size
    )


def classifier_features(
    gan: GAN, samples: torch.Tensor, device: torch.device, batch_size: int
) -> torch.Tensor:
    """What the generative route's softmax classifier reads: a feature run's vectors themselves
    (as f-CLSWGAN classifies real and generated CNN features), an image run's trunk features."""
    if gan.dims.feature_dim:
        return samples.to(torch.float32)
    return pooled_features(gan, samples, device, batch_size)


@torch.no_grad()
def imagine(
    gan: GAN,
    attributes: torch.Tensor,
    device: torch.device,
    batch_size: int,
    sources: torch.Tensor | None = None,
) -> torch.Tensor:
    """Images G makes for each row of ``attributes`` (uint8, on the CPU; a feature run's
    vectors as float32).

    A generator that needs a source translates ``sources`` (uint8, one per row) towards the
    rows; one that imagines without a source is given none.
    """
    needs_source = gan.generator.source_images == "required"
    if needs_source and (sources is None or len(sources) != len(attributes)):
        raise ValueError("a translating generator needs one source image per attribute row")
    outputs = []
    for start in range(0, len(attributes), batch_size):
        rows = attributes[start : start + batch_size].to(device, torch.float32)
        images = None
        if needs_source:
            images = as_inputs(sources[start : start + batch_size].to(device))
        made = gan.generator(rows, images=images)
        outputs.append(made.float().cpu() if gan.dims.feature_dim else to_uint8(made))
    return torch.cat(outputs)


def imagine_classes(
    gan: GAN,
    class_attributes: torch.Tensor,
    classes: list[int],
    per_class: int,
    device: torch.device,
    batch_size: int,
    source_pool: torch.Tensor | None,
    generator: torch.Generator,
) -> LabelledImages:
    """``per_class`` imagined images of each of ``classes``, labelled with the class.

    For a generator that needs a source the source images are drawn at random from
    ``source_pool`` (real images of classes other than ``classes``).
    """
    labels = torch.tensor(classes, dtype=torch.long).repeat_interleave(per_class)
    sources = None
    if gan.generator.source_images == "required":
        if source_pool is None or len(source_pool) == 0:
            raise ValueError("a translating generator needs source images to translate")
        picks = torch.randint(0, len(source_pool), (len(labels),), generator=generator)
        sources = source_pool[picks]
    images = imagine(gan, class_attributes[labels], device, batch_size, sources)
    return LabelledImages(images, labels)
