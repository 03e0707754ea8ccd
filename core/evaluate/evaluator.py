"""``zsk eval`` as a function: every zero-shot number of a trained run, written to eval.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.components.metric_inputs import LabelledImages, MetricInputs
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.attribute_probe import (
    attribute_accuracy,
    binarize,
    predicate_accuracy,
    train_probe,
)
from zsk.core.evaluate.calibration import calibration_source, check_validation_run
from zsk.core.evaluate.classifier import EPOCHS
from zsk.core.evaluate.embedding import embedding_calibration, evaluate_embedding
from zsk.core.evaluate.generative import Imagining, choose_imagining, evaluate_generative
from zsk.core.evaluate.metric_plugins import build_metrics, compute_metrics
from zsk.core.evaluate.published_protocol import published_protocol
from zsk.core.evaluate.trained import TrainedRun, load_trained
from zsk.core.evaluate.validation import pseudo_unseen_split
from zsk.core.rundir.validation_run import trained_companion
from zsk.core.spec.refs import MetricRef
from zsk.core.storage.files import write_file
from zsk.registry import UserError

EVAL_FILE = "eval.json"
NO_GENERATOR = "the spec trains no generator (empty generator objective)"
NO_EMBEDDING = "the run's discriminator has no embedding head (model.heads.embedding)"

#: Generated samples per unseen class and classifier epochs the evaluation chooses among on
#: validation classes, for an image run and for a feature run (f-CLSWGAN's published counts
#: are 100 to 1200 features per class; a few hundred images already take minutes on a CPU).
IMAGE_CHOICES = {"images_per_class": (64,), "classifier_epochs": (EPOCHS,)}
FEATURE_CHOICES = {"images_per_class": (100, 300, 1200), "classifier_epochs": (10, 30)}


@dataclass(frozen=True)
class EvalOptions:
    """Knobs of an evaluation; the defaults suit AwA2 at 128 pixels on a GPU.

    ``images_per_class`` and ``classifier_epochs`` are candidates that the generative route
    chooses among on validation classes (never on test data); empty: :data:`IMAGE_CHOICES` or
    :data:`FEATURE_CHOICES`, by the run's data.
    """

    images_per_class: tuple[int, ...] = ()
    classifier_epochs: tuple[int, ...] = ()
    probe_steps: int = 1000
    batch_size: int = 128
    seed: int = 0
    metrics: tuple[MetricRef, ...] = ()
    #: the validation run that chooses GZSL's constants; None: RUN_DIR/validation when built
    calibration_run: Path | None = None


def _load(trained: TrainedRun, split: str) -> LabelledImages:
    images, labels = load_split_images(
        trained.build.data, split, trained.build.dims.image_size, progress=True
    )
    return LabelledImages(images, labels)


def _check_splits(train: LabelledImages, seen: LabelledImages, unseen: LabelledImages) -> None:
    for name, part in (("train", train), ("test_seen", seen), ("test_unseen", unseen)):
        if len(part) == 0:
            raise UserError(
                f"the data set has no readable {name} images, which the evaluation needs",
                hint="check the data directory with `zsk data check DIR`",
            )


def evaluate(
    trained: TrainedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, object]:
    """Embedding ZSL/GZSL, generative ZSL/GZSL, attribute accuracy of imagined images, and
    the metric plugins ``options.metrics`` names (under ``metrics``)."""
    if options.metrics and trained.build.data.is_features:
        raise UserError(
            f"{trained.run_dir} is a feature run: metric plugins (FID, KID, ...) judge imagined "
            "images, and a feature run makes feature vectors",
            hint="drop --metric for this run; its generative ZSL/GZSL numbers judge the features",
        )
    metrics = build_metrics(list(options.metrics))  # refuse a bad one before the long part
    if metrics and not trained.build.objective.generator:
        raise UserError(
            f"{trained.run_dir}: metrics of imagined images need a generator, and {NO_GENERATOR}",
            hint="drop --metric for this run",
        )
    validation_run = None
    calibration_run = options.calibration_run or trained_companion(trained.run_dir)
    if calibration_run is not None:  # refuse a bad run before the long part
        validation_run = load_trained(calibration_run)
        check_validation_run(trained.build.data, validation_run)
    data = trained.build.data
    gan = trained.build.gan.to(device).eval()
    torch.manual_seed(options.seed)
    train, test_seen, test_unseen = (
        _load(trained, s) for s in ("train", "test_seen", "test_unseen")
    )
    _check_splits(train, test_seen, test_unseen)
    test = test_seen + test_unseen
    split = pseudo_unseen_split(train.labels, data.seen, len(data.unseen), options.seed)
    batch = options.batch_size

    source = calibration_source(trained, train, split, validation_run, log)
    judge = source.judge.build.gan.to(device).eval()
    judge_data, where = source.judge.build.data, source.images.source

    embedding: dict[str, object] = {"zsl_top1": None, "gzsl": None}
    if "embedding" in gan.discriminator.heads:
        log("embedding zero-shot accuracy")
        calibration = embedding_calibration(judge, judge_data, source.images, device, batch)
        embedding = evaluate_embedding(gan, data, test, calibration, where, device, batch)
    else:
        embedding["embedding_unavailable"] = NO_EMBEDDING
    imagined = (
        _imagined_images(
            trained, judge, source, (train, test_seen, test_unseen), metrics, options, device, log
        )
        if trained.build.objective.generator
        else {"generative": None, "generated_attribute_accuracy": None, "attribute_probe": None}
        | {"metrics": {}, "imagined_unavailable": NO_GENERATOR}
    )
    return {
        "run": str(trained.run_dir),
        "checkpoint": trained.checkpoint.name,
        "step": trained.step,
        **embedding,
        **imagined,
        "validation": {
            "pseudo_unseen_classes": split.held_out,
            "validation_images": {"seen": len(split.val_seen), "unseen": len(split.val_unseen)},
        },
        "images": {
            "train": len(train),
            "test_seen": len(test_seen),
            "test_unseen": len(test_unseen),
        },
        "seed": options.seed,
    }


def _imagined_images(
    trained: TrainedRun,
    judge,
    source,
    splits: tuple[LabelledImages, LabelledImages, LabelledImages],
    metrics,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None],
) -> dict[str, object]:
    """Generative ZSL/GZSL, the imagined images' attribute accuracy (per predicate too), and
    the metric plugins, for a run whose spec trains a generator."""
    data, gan, batch = trained.build.data, trained.build.gan, options.batch_size
    train, test_seen, test_unseen = splits
    defaults = FEATURE_CHOICES if data.is_features else IMAGE_CHOICES
    per_class = options.images_per_class or defaults["images_per_class"]
    epochs = options.classifier_epochs or defaults["classifier_epochs"]
    log(f"imagining {', '.join(map(str, per_class))} samples per class and fitting classifiers")
    judge_data, where = source.judge.build.data, source.images.source
    how, calibration, candidates = choose_imagining(
        judge,
        judge_data,
        source.fit,
        source.images,
        Imagining(per_class[0], device, batch, options.seed),
        per_class,
        epochs,
    )
    generative = evaluate_generative(
        gan, data, train, test_seen + test_unseen, calibration, where, how
    )
    generative.metrics["chosen_on_validation"] = candidates
    if data.is_features:
        log("f-CLSWGAN's own ZSL and GZSL classifiers (uncalibrated, as published)")
        generative.metrics["published_protocol"] = published_protocol(
            gan, data, train, test_seen + test_unseen, device, options.seed
        )
    log(f"training the attribute probe ({options.probe_steps} steps)")
    binary, rule = binarize(data.attributes)
    probe = train_probe(train, binary, options.probe_steps, device, options.seed)
    imagined = generative.imagined

    def per_predicate(images: LabelledImages) -> dict[str, float]:
        accuracy = predicate_accuracy(probe, images, binary, device, batch).tolist()
        return dict(zip(data.predicates, accuracy, strict=True))

    if metrics:
        log(f"metrics: {', '.join(metrics)}")
    inputs = MetricInputs(
        data, train, test_seen, test_unseen, imagined, gan, device, batch, options.seed
    )
    return {
        "generative": generative.metrics,
        "generated_attribute_accuracy": attribute_accuracy(probe, imagined, binary, device, batch),
        "attribute_probe": {
            "real_test_seen": attribute_accuracy(probe, test_seen, binary, device, batch),
            "real_test_unseen": attribute_accuracy(probe, test_unseen, binary, device, batch),
            "threshold": rule,
            "steps": options.probe_steps,
            "per_predicate": {
                "imagined_unseen": per_predicate(imagined),
                "real_test_unseen": per_predicate(test_unseen),
            },
        },
        "metrics": compute_metrics(metrics, inputs),
    }


def write_eval(run_dir: Path, result: dict[str, object]) -> Path:
    """Write ``RUN_DIR/eval.json`` atomically."""
    path = Path(run_dir) / EVAL_FILE
    return write_file(path, json.dumps(result, indent=2) + "\n")


def read_eval(run_dir: Path) -> dict[str, object] | None:
    """``RUN_DIR/eval.json``, or None when absent or unreadable."""
    try:
        return json.loads((Path(run_dir) / EVAL_FILE).read_text())
    except (OSError, ValueError):
        return None
