"""``zsk eval`` as a function: every zero-shot number of a trained run, written to eval.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.build.model import GAN
from zsk.core.components.interfaces import Metric
from zsk.core.components.metric_inputs import LabelledImages, MetricInputs
from zsk.core.components.zsl_data import ZslData
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.attribute_probe import (
    attribute_accuracy,
    binarize,
    predicate_accuracy,
    train_probe,
)
from zsk.core.evaluate.calibration import (
    CalibrationSource,
    calibration_source,
    check_validation_run,
)
from zsk.core.evaluate.carry import carried, margin_sample
from zsk.core.evaluate.classifier import EPOCHS
from zsk.core.evaluate.combined import Classes, RouteScores, combined_route
from zsk.core.evaluate.embedding import (
    CalibrationImages,
    embedding_calibration,
    evaluate_embedding,
    shared_margins,
)
from zsk.core.evaluate.generative import Imagining, choose_imagining, evaluate_generative
from zsk.core.evaluate.headline import COMBINED, choose_headline, route_kind
from zsk.core.evaluate.metric_plugins import build_metrics, compute_metrics
from zsk.core.evaluate.pseudo_unseen import pseudo_unseen_split
from zsk.core.evaluate.published_protocol import published_protocol
from zsk.core.evaluate.result import (
    AttributeProbe,
    CalibrationSummary,
    EvalResult,
    ImageCounts,
    ImaginedRecord,
    MetricOutcome,
    RouteResult,
    discard_eval,
)
from zsk.core.evaluate.trained import TrainedRun, load_trained
from zsk.core.rundir.validation_run import trained_companion
from zsk.core.spec.refs import MetricRef
from zsk.registry import UserError

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
    #: let the data set's unseen classes compete on the validation images where the constants
    #: are chosen (:class:`~.embedding.CalibrationImages`)
    unseen_as_distractors: bool = False
    #: carry the embedding constant from the validation run's scale into the run's
    #: (:mod:`.carry`) instead of applying it as chosen (the field's protocol)
    carry_constant: bool = False


def _load(trained: TrainedRun, split: str) -> LabelledImages:
    images, labels = load_split_images(
        trained.build.data, split, trained.build.dims.image_size, progress=True
    )
    return LabelledImages(images, labels)


def _load_splits(trained: TrainedRun) -> tuple[LabelledImages, LabelledImages, LabelledImages]:
    """The train, test_seen and test_unseen images; refused when one has none."""
    splits = ("train", "test_seen", "test_unseen")
    for name in splits:
        if not getattr(trained.build.data, name):
            raise UserError(
                f"the data set's {name} split holds no images, which the evaluation needs",
                hint="a split of seen classes needs classes with more than one image; "
                "see `zsk data check DIR`",
            )
    parts = tuple(_load(trained, name) for name in splits)
    for name, part in zip(splits, parts, strict=True):
        if len(part) == 0:
            raise UserError(
                f"the data set has no readable {name} images, which the evaluation needs",
                hint="check the data directory with `zsk data check DIR`",
            )
    return parts


def _checked_request(
    trained: TrainedRun, options: EvalOptions
) -> tuple[dict[str, Metric], TrainedRun | None]:
    """The metric plugins built and the calibration run loaded: a bad request is refused before
    the long part."""
    if options.metrics and trained.build.data.is_features:
        raise UserError(
            f"{trained.run_dir} is a feature run: metric plugins (FID, KID, ...) judge imagined "
            "images, and a feature run makes feature vectors",
            hint="drop --metric for this run; its generative ZSL/GZSL numbers judge the features",
        )
    metrics = build_metrics(list(options.metrics))
    if metrics and not trained.build.objective.generator:
        raise UserError(
            f"{trained.run_dir}: metrics of imagined images need a generator, and {NO_GENERATOR}",
            hint="drop --metric for this run",
        )
    validation_run = None
    calibration_run = options.calibration_run or trained_companion(trained.run_dir)
    if calibration_run is not None:
        validation_run = load_trained(calibration_run)
        check_validation_run(trained.build.data, validation_run)
    return metrics, validation_run


def evaluate(
    trained: TrainedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> EvalResult:
    """Embedding ZSL/GZSL, generative ZSL/GZSL, the two combined, attribute accuracy of
    imagined images, the metric plugins ``options.metrics`` names, and the headline routes
    (chosen on validation classes, :mod:`.headline`).

    Once the request is checked, the run's previous eval.json is removed, so that an
    evaluation that fails or is stopped never leaves an old result looking current.
    """
    return evaluate_scored(trained, options, device, log)[0]


def evaluate_scored(
    trained: TrainedRun,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[EvalResult, dict[str, RouteScores]]:
    """:func:`evaluate`, and the validation and test scores of each calibrated route, which a
    staged evaluation combines across stages."""
    metrics, validation_run = _checked_request(trained, options)
    discard_eval(trained.run_dir)
    data = trained.build.data
    gan = trained.build.gan.to(device).eval()
    torch.manual_seed(options.seed)
    train, test_seen, test_unseen = _load_splits(trained)
    split = pseudo_unseen_split(train.labels, data.seen, len(data.unseen), options.seed)
    source = calibration_source(
        trained, train, split, validation_run, options.unseen_as_distractors, log
    )
    scorer = source.scorer.build.gan.to(device).eval()
    routes, unavailable, scores = {}, {}, {}
    test = test_seen + test_unseen
    if "embedding" in gan.discriminator.heads:
        routes["embedding"], scores["embedding"] = _embedding_route(
            gan, scorer, source, data, test, options, device, log
        )
    else:
        unavailable["embedding"] = NO_EMBEDDING
    imagined, outcomes = None, {}
    if trained.build.objective.generator:
        splits = (train, test_seen, test_unseen)
        imagined_routes, imagined, outcomes, scores["generative"] = _imagined_samples(
            trained, scorer, source, splits, test, metrics, options, device, log
        )
        routes |= imagined_routes
    else:
        unavailable["generative"] = NO_GENERATOR
    for name, route_scores in scores.items():
        routes[name] = routes[name].model_copy(update={"cross_fitted": route_scores.cross_fitted()})
    if {"embedding", "generative"} <= set(scores):
        log("the embedding and generative routes combined")
        routes[COMBINED] = combined_route(scores["embedding"], scores["generative"])
    pseudo = validation_run is None and data.holdout is None
    kinds = {name: (route_kind(name, data.is_features), route) for name, route in routes.items()}
    result = EvalResult(
        run=str(trained.run_dir),
        checkpoint=trained.checkpoint.name,
        step=trained.step,
        seed=options.seed,
        routes=routes,
        unavailable=unavailable,
        imagined=imagined,
        metrics=outcomes,
        calibration=_calibration_summary(source.images, split.held_out if pseudo else None),
        images=ImageCounts(
            train=len(train), test_seen=len(test_seen), test_unseen=len(test_unseen)
        ),
        headline=choose_headline(kinds),
    )
    return result, scores


def _embedding_route(
    gan: GAN,
    scorer: GAN,
    source: CalibrationSource,
    data: ZslData,
    test: LabelledImages,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None],
) -> tuple[RouteResult, RouteScores]:
    """The embedding route, its constant chosen by ``scorer`` on ``source``'s images (and, with
    ``options.carry_constant``, carried into ``gan``'s scale on ``source.fit`` when ``scorer``
    is another run's), and its scores there and on ``test``."""
    log("embedding zero-shot accuracy")
    batch = options.batch_size
    calibration, validation_scores = embedding_calibration(
        scorer, source.scorer.build.data, source.images, device, batch
    )
    if options.carry_constant and scorer is gan:
        log("--carry-constant: the constant is chosen on this run itself, none to carry")
    elif options.carry_constant:
        shared = source.fit.images[margin_sample(len(source.fit), options.seed)]
        found = shared_margins(scorer, source.images, gan, data, shared, device, batch)
        calibration = carried(calibration, *found)
    where = source.images.source
    route, test_scores = evaluate_embedding(gan, data, test, calibration, where, device, batch)
    return route, _route_scores(data, source, (), validation_scores, test, test_scores)


def _route_scores(
    data: ZslData,
    source: CalibrationSource,
    candidates: tuple[torch.Tensor, ...],
    validation_scores: torch.Tensor,
    test: LabelledImages,
    test_scores: torch.Tensor,
) -> RouteScores:
    """A route's scores on ``source``'s validation images (every candidate's, and the chosen
    one's) and on ``test``, with their labels and classes."""
    validation = source.images
    classes = Classes(
        data.seen, data.unseen, validation.seen, validation.unseen, validation.distractors
    )
    return RouteScores(
        validation_scores,
        validation.images.labels,
        test_scores,
        test.labels,
        classes,
        validation.source,
        candidates,
    )


def _calibration_summary(
    images: CalibrationImages, pseudo_unseen: list[int] | None
) -> CalibrationSummary:
    labels = images.images.labels
    return CalibrationSummary(
        source=images.source,
        seen_images=int(torch.isin(labels, torch.tensor(images.seen)).sum()),
        unseen_images=int(torch.isin(labels, torch.tensor(images.unseen)).sum()),
        pseudo_unseen_classes=pseudo_unseen,
    )


def _imagined_samples(
    trained: TrainedRun,
    scorer,
    source,
    splits: tuple[LabelledImages, LabelledImages, LabelledImages],
    test: LabelledImages,
    metrics,
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None],
) -> tuple[dict[str, RouteResult], ImaginedRecord, dict[str, MetricOutcome], RouteScores]:
    """Generative ZSL/GZSL (and, for a feature run, f-CLSWGAN's published protocol beside it),
    the imagined samples' attribute accuracy (per predicate too), the metric plugins, and the
    generative route's scores, for a run whose spec trains a generator; ``test`` is the
    test_seen and test_unseen images of ``splits`` together."""
    data, gan, batch = trained.build.data, trained.build.gan, options.batch_size
    train, test_seen, test_unseen = splits
    defaults = FEATURE_CHOICES if data.is_features else IMAGE_CHOICES
    per_class = options.images_per_class or defaults["images_per_class"]
    epochs = options.classifier_epochs or defaults["classifier_epochs"]
    log(f"imagining {', '.join(map(str, per_class))} samples per class and fitting classifiers")
    scorer_data, where = source.scorer.build.data, source.images.source
    chosen = choose_imagining(
        scorer,
        scorer_data,
        source.fit,
        source.images,
        Imagining(per_class[0], device, batch, options.seed),
        per_class,
        epochs,
    )
    generative = evaluate_generative(
        gan, data, train, test, chosen.calibration, where, chosen.how, chosen.candidates
    )
    scores = _route_scores(
        data,
        source,
        chosen.every_validation_scores,
        chosen.validation_scores,
        test,
        generative.test_scores,
    )
    routes = {"generative": generative.route}
    if data.is_features:
        log("f-CLSWGAN's own ZSL and GZSL classifiers (uncalibrated, as published)")
        routes["published_protocol"] = published_protocol(
            gan, data, train, test, device, options.seed
        )
    record = _attribute_record(data, generative.imagined, splits, options, device, log)
    if metrics:
        log(f"metrics: {', '.join(metrics)}")
    inputs = MetricInputs(
        data, train, test_seen, test_unseen, generative.imagined, gan, device, batch, options.seed
    )
    return routes, record, compute_metrics(metrics, inputs), scores


def _attribute_record(
    data: ZslData,
    imagined: LabelledImages,
    splits: tuple[LabelledImages, LabelledImages, LabelledImages],
    options: EvalOptions,
    device: torch.device,
    log: Callable[[str], None],
) -> ImaginedRecord:
    """How well the imagined unseen samples carry their attributes, judged by a probe trained
    on the real training images (its accuracy on real test images beside, as the reference)."""
    train, test_seen, test_unseen = splits
    log(f"training the attribute probe ({options.probe_steps} steps)")
    binary, rule = binarize(data.attributes)
    probe = train_probe(train, binary, options.probe_steps, device, options.seed)

    def accuracy(images: LabelledImages) -> float:
        return attribute_accuracy(probe, images, binary, device, options.batch_size)

    def per_predicate(images: LabelledImages) -> dict[str, float]:
        values = predicate_accuracy(probe, images, binary, device, options.batch_size).tolist()
        return dict(zip(data.predicates, values, strict=True))

    return ImaginedRecord(
        attribute_accuracy=accuracy(imagined),
        probe=AttributeProbe(
            real_test_seen=accuracy(test_seen),
            real_test_unseen=accuracy(test_unseen),
            threshold=rule,
            steps=options.probe_steps,
            per_predicate={
                "imagined_unseen": per_predicate(imagined),
                "real_test_unseen": per_predicate(test_unseen),
            },
        ),
    )
