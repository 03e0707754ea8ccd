"""``zsk init``'s recommended starting spec, sized to a data set and a compute budget.

What the data decides: the reader (AwA2 layout or image folders) and its attribute scale, the
image size (the smallest the generator supports that is at least the training images' median
side, capped by ``max_image_size``), and the training length. Only training images are read:
no test image influences the spec. The length comes from the budget:
the FLOPs of one real training step (every update its objective makes, counted on the built
networks) at a nominal rate, split between the run and the validation run that chooses GZSL's
calibration (``validation_run``). Counting FLOPs, not timing steps, keeps the spec the same on
every machine; counting a real step, not one pass through every network, is what gives a spec
without the GAN (``--no-gan``) the same CPU time as one with it: its step costs about a
quarter.

Everything else is the same for every data set: small networks and the objective of
examples/shapes.yaml with a softmax over every seen class's cosine added to D, chosen on
validation runs (BENCHMARKS.md §6 says which and why).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from zsk.core.build.composer import compose, load_data
from zsk.core.data.folder_formats import folder_formats, load_folder
from zsk.core.spec.loading import validate_spec
from zsk.core.spec.sections import Spec
from zsk.core.train.loop import Trainer
from zsk.registry import UserError

#: Image sizes the built-in generator draws (its depth follows the size).
IMAGE_SIZES = (32, 64, 128)
#: Training FLOPs one CPU core delivers per second on the small networks below, the process's
#: start, data loading and checkpoints included: what turns ``--cpu-minutes`` into steps. A
#: faster or slower core trains proportionally more or fewer steps in the same budget.
FLOPS_PER_SECOND = 40e9
BATCH = 32
#: Training images a validation run keeps, as a share of the run's (held-out classes and the
#: fifth of the other classes' images leave); used to split the budget.
_VALIDATION_SHARE = 0.6


def median_side(paths: list[Path], sample: int = 64) -> int:
    """The median of min(width, height) over up to ``sample`` of ``paths`` (spread evenly)."""
    step = max(1, len(paths) // sample)
    sides = []
    for path in paths[::step][:sample]:
        try:
            with Image.open(path) as image:
                sides.append(min(image.size))
        except OSError:
            continue
    if not sides:
        raise UserError("no readable training image found", hint="zsk data check DIR")
    return int(statistics.median(sides))


def image_size_for(side: int, max_image_size: int) -> int:
    fitting = [s for s in IMAGE_SIZES if s <= max_image_size] or [IMAGE_SIZES[0]]
    return next((s for s in fitting if s >= side), fitting[-1])


def _data_section(root: Path) -> dict[str, Any]:
    """The registered format that reads ``root``; attributes on a 0–100 scale divided by 100."""
    name, data = load_folder(root)
    params: dict[str, Any] = {"root": str(root)}
    takes_scale = "divide_by" in folder_formats()[name].Params.model_fields
    if takes_scale and float(data.attributes.max()) > 1:
        params["divide_by"] = 100.0
    return {"type": name, "params": params}


def recommended_spec(
    root: Path, name: str, image_size: int, gan: bool, epochs: int, seed: int = 0
) -> dict[str, Any]:
    """The spec as a plain dict (see module); ``gan=False`` gives the same networks and
    settings trained without the GAN: no generator terms and no adversarial term, every other
    term of the discriminator kept (the comparison every claim needs). ``epochs`` is the
    caller's: :func:`epochs_for` sizes each spec to the budget from its own step."""
    discriminator: list[dict[str, Any]] = [
        {"type": "cosine_real", "params": {"lambda_other": 0.5, "lambda_softmax": 0.1}},
        {"type": "attribute"},
        {"type": "cosine_softmax"},
    ]
    generator: list[dict[str, Any]] = []
    if gan:
        discriminator = [{"type": "lsgan"}, *discriminator]
        generator = [
            {"type": "lsgan"},
            {"type": "cosine_generator"},
            {"type": "attribute"},
            {"type": "l1_reconstruction", "weight": 10.0},
        ]
    generator_params = {"base_channels": 16, "max_channels": 64, "bottleneck_size": 4}
    if gan:
        generator_params |= {"noise": True, "source_dropout": 0.75}
    return {
        "name": name,
        "data": _data_section(root),
        "model": {
            "image_size": image_size,
            "embedding_dim": 64,
            "noise_dim": 32,
            "generator": {"type": "encoder_decoder", "params": generator_params},
            "trunk": {
                "type": "sn_conv",
                "params": {"channels": [32, 64, 128], "dropout": 0.0, "attention_at": []},
            },
            "heads": {
                "real_fake": {"type": "real_fake"},
                "attribute": {"type": "attribute"},
                "embedding": {"type": "embedding", "params": {"classifier": True}},
                "reconstruction_feature": {
                    "type": "reconstruction_feature",
                    "params": {"channels": 32},
                },
            },
            "semantic_encoder": {"type": "linear"},
        },
        "objective": {"discriminator": discriminator, "generator": generator},
        "train": {
            "batch_size": BATCH,
            "epochs": epochs,
            "optimizers": {
                "generator": {"lr": 2.0e-4, "betas": [0.5, 0.999]},
                "discriminator": {"lr": 2.0e-4, "betas": [0.5, 0.999]},
            },
            "instance_noise": {"std": 0.1, "decay": 0.999},
            "seed": seed,
            "log_every": 25,
            "checkpoint_every": 1000,
            "sample_every": 500,
        },
        "validation_run": {},
    }


def validated_spec(spec: dict[str, Any]) -> Spec:
    """``spec`` (a plain dict) validated as a spec file is, its plugins resolved."""
    return validate_spec(spec, source="the recommended spec")


def training_images(spec: dict[str, Any]) -> list[Path]:
    """The training images of ``spec``'s data set (never a test image)."""
    return [sample.path for sample in load_data(validated_spec(spec)).train]


def step_flops(spec: dict[str, Any]) -> int:
    """FLOPs of one training step of ``spec`` at its batch size: the trainer's own step (every
    critic update, and the generator update where the objective has one) on a few training
    images, in a folder thrown away afterwards."""
    from torch.utils.flop_counter import FlopCounterMode  # slow to import; only to count

    loaded = validated_spec(spec)
    data = load_data(loaded)
    few = 2 * loaded.train.batch_size * loaded.train.n_critic
    build = compose(loaded, dataclasses.replace(data, train=data.train[:few]))
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(build, Path(folder), steps=1, device="cpu")
        with FlopCounterMode(display=False) as counter:
            trainer.train_step()
    return counter.get_total_flops() or 1


def epochs_for(flops: int, images: int, cpu_seconds: float) -> int:
    """Passes over the training images that ``cpu_seconds`` buys for the run and its
    validation run together, at least 1."""
    steps = cpu_seconds * FLOPS_PER_SECOND / flops / (1 + _VALIDATION_SHARE)
    return max(1, round(steps * BATCH / max(images, 1)))
