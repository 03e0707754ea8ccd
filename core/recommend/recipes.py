"""The networks, objective and training settings ``zsk init`` writes for each route.

- ``two-stage`` (the default): a recogniser, then a feature GAN over its embeddings φ(x) (a
  staged spec: ``zsk train`` extracts φ(x) between the stages, ``zsk eval`` reports the
  recogniser's embedding route, the feature GAN's classifier and the two combined, and names
  the headline routes: GZSL by validation H, ZSL the embedding route).
  Chosen on validation classes (BENCHMARKS.md §6): its headline reached a validation H at
  least the recogniser's alone at the same budget on all six zoo sets. Its feature GAN was
  chosen on validation classes among small WGAN-GP feature GANs: a linear generator, a critic
  of one hidden layer of 256, 2 critic steps, 200 generator steps, Adam 1e-3, classifier
  regulariser β 1.
- ``no-gan``: the recogniser alone. Three strided convolutions with batch norm (and without the
  conv biases batch norm cancels), 1×1 attribute and embedding heads over the averaged trunk
  features, D's cosine, attribute and cosine-softmax terms (no seen-class classifier on φ),
  Adam at 1e-3 taken linearly to 0 over the run, batches of 64, images flipped and shifted by
  up to 1/8 of their side. Chosen on validation classes (§6); its step costs about what a
  hand-written learner's step costs (§4).
- ``image-gan``: the report's image GAN (spectral-norm trunk with instance norm, LSGAN,
  the cosine, attribute and reconstruction terms): what imagines pictures of unseen classes
  (``zsk generate``, ``zsk translate``).

Every spec pins one training thread, so the CPU seconds it spends are those it was sized for.
"""

from __future__ import annotations

from typing import Any

ROUTES = ("two-stage", "no-gan", "image-gan")
DEFAULT_ROUTE = "two-stage"
#: The route whose spec is the recogniser (the two-stage route's first stage).
RECOGNISER = "no-gan"
#: The recogniser's trunk and heads in the paper's form (spectral norm, instance norm from
#: the second block, self-attention after the last two): one line in a no-gan spec.
PAPER_TRUNK = (
    "{weight_norm: {type: spectral}, feature_norm: {type: instance}, norm_from: 1, "
    "attention_at: [-2, -1]}"
)


def _recognition_terms(seen_classifier: bool) -> list[dict[str, Any]]:
    """D's cosine, attribute and cosine-softmax terms. ``seen_classifier`` keeps
    ``cosine_real``'s softmax of a linear seen-class classifier on φ (λ2 0.1, chosen for the
    image GAN on the demo's validation run); the recogniser goes without it, which raised
    validation H on the zoo's held-out classes (BENCHMARKS.md §6)."""
    softmax = 0.1 if seen_classifier else 0.0
    return [
        {"type": "cosine_real", "params": {"lambda_other": 0.5, "lambda_softmax": softmax}},
        {"type": "attribute"},
        {"type": "cosine_softmax"},
    ]


_GAN_OPTIMISER = {"lr": 2.0e-4, "betas": [0.5, 0.999]}
#: The recogniser's real images are shifted at random by up to this share of their side: it
#: raised mean validation H over the zoo's six sets and three seeds (0.784 against 0.774,
#: within the spread; docs/studies.md), at under 1% more CPU a step (BENCHMARKS.md §4).
RECOGNISER_SHIFT = 0.125
#: The recogniser's learning rate falls linearly from its start to 0 at the run's last epoch:
#: at two CPU minutes it raised mean validation H over the zoo's six sets (0.787 against 0.771,
#: no set lower) and, on fresh draws, test ZSL top-1 and H; at one minute it did no harm
#: (docs/studies.md). A constant rate let longer runs wander off (textures fell at two minutes).
RECOGNISER_SCHEDULE = {"type": "constant_then_linear", "constant": 0, "unit": "epochs"}
#: The feature stage's batch, where the data hold that many training images.
FEATURE_BATCH = 64


def batch_size(route: str) -> int:
    return 32 if route == "image-gan" else 64


def _generator(gan: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"base_channels": 16, "max_channels": 64, "bottleneck_size": 4}
    if gan:
        params |= {"noise": True, "source_dropout": 0.75}
    return {"type": "encoder_decoder", "params": params}


def _recogniser_model() -> dict[str, Any]:
    plain = {"type": "none"}
    pooled = {"kernel_size": 1, "padding": 0, "weight_norm": plain}
    return {
        "generator": _generator(gan=False),
        "trunk": {
            "type": "sn_conv",
            "params": {
                "channels": [32, 64, 128],
                "weight_norm": plain,
                "feature_norm": {"type": "batch"},
                "norm_from": 0,
                "dropout": 0.0,
                "attention_at": [],
                "bias_before_norm": False,
            },
        },
        "heads": {
            "attribute": {"type": "attribute", "params": pooled},
            "embedding": {"type": "embedding", "params": {"classifier": False, **pooled}},
        },
    }


def _image_gan_model() -> dict[str, Any]:
    return {
        "generator": _generator(gan=True),
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
    }


def _objective(gan: bool) -> dict[str, Any]:
    if not gan:
        return {"discriminator": _recognition_terms(seen_classifier=False), "generator": []}
    return {
        "discriminator": [{"type": "lsgan"}, *_recognition_terms(seen_classifier=True)],
        "generator": [
            {"type": "lsgan"},
            {"type": "cosine_generator"},
            {"type": "attribute"},
            {"type": "l1_reconstruction", "weight": 10.0},
        ],
    }


def run_length(route: str, epochs: int) -> dict[str, Any]:
    """The train section's length of ``route`` run for ``epochs``, and the recogniser's
    learning-rate schedule over that length (:data:`RECOGNISER_SCHEDULE`)."""
    if route == "image-gan":
        return {"epochs": epochs}
    return {"epochs": epochs, "schedule": RECOGNISER_SCHEDULE | {"decay": epochs}}


def route_sections(route: str, image_size: int, epochs: int, seed: int) -> dict[str, Any]:
    """The model, objective and train sections of ``route`` (see module)."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; routes: {', '.join(ROUTES)}")
    gan = route == "image-gan"  # two-stage: the recogniser is its first stage
    model = _image_gan_model() if gan else _recogniser_model()
    discriminator = _GAN_OPTIMISER if gan else {"lr": 1.0e-3, "betas": [0.9, 0.999]}
    return {
        "model": {
            "image_size": image_size,
            "embedding_dim": 64,
            "noise_dim": 32,
            **model,
            "semantic_encoder": {"type": "linear"},
        },
        "objective": _objective(gan),
        "train": {
            "batch_size": batch_size(route),
            **run_length(route, epochs),
            "threads": 1,
            "optimizers": {"generator": dict(_GAN_OPTIMISER), "discriminator": discriminator},
            "instance_noise": {"std": 0.1 if gan else 0.0, "decay": 0.999},
            **({} if gan else {"translate": RECOGNISER_SHIFT}),
            "seed": seed,
            "log_every": 25,
            "checkpoint_every": 1000,
            "sample_every": 500,
        },
    }


def feature_stage(num_attributes: int, seed: int, batch_size: int) -> dict:
    """The two-stage route's second stage: a feature GAN over the recogniser's φ(x)."""
    optimiser = {"lr": 1.0e-3, "betas": [0.5, 0.999]}
    return {
        "features_from": {"stage": "recogniser", "layer": "embedding"},
        "model": {
            "noise_dim": num_attributes,
            "embedding_dim": 8,  # unused: the objective has no embedding term
            "generator": {"type": "feature_mlp", "params": {"hidden": [], "output": "linear"}},
            "trunk": {"type": "feature_mlp", "params": {"hidden": []}},
            "heads": {"real_fake": {"type": "concat_critic", "params": {"hidden": [256]}}},
            "semantic_encoder": {"type": "linear"},
        },
        "objective": {
            "discriminator": [{"type": "wgan_gp", "params": {"lambda_gp": 10.0}}],
            "generator": [{"type": "wgan_gp"}, {"type": "pretrained_classifier", "weight": 1.0}],
        },
        "train": {
            "batch_size": batch_size,
            "n_critic": 2,
            "steps": 200,
            "threads": 1,
            "negative_fraction": 0.0,
            "hflip": False,
            "optimizers": {"generator": optimiser, "discriminator": dict(optimiser)},
            "seed": seed,
            "log_every": 100,
            "checkpoint_every": 200,
        },
    }


def staged(spec: dict, num_attributes: int) -> dict:
    """A one-stage recogniser ``spec`` as the two-stage route's staged spec. The feature stage
    trains on φ(x) of the recogniser's training images (its validation run on the recogniser's
    validation run's), so its batch is no larger than the recogniser's, which fits the data."""
    body = {key: value for key, value in spec.items() if key not in ("name", "validation_run")}
    train = body["train"]
    batch = min(FEATURE_BATCH, train["batch_size"])
    stages = {"recogniser": body, "features": feature_stage(num_attributes, train["seed"], batch)}
    top = {"name": spec["name"]}
    if "validation_run" in spec:
        top["validation_run"] = spec["validation_run"]
    return {**top, "stages": stages}
