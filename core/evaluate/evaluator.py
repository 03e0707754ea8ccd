"""``zsk eval`` as a function: every zero-shot number of a trained run, written to eval.json."""

from __future__ import annotations

from collections.abc import Callable

import torch

from zsk.core.components.interfaces import Metric
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.calibration import (
    CalibrationSource,
    calibration_source,
    check_validation_run,
)
from zsk.core.evaluate.carry import shared_draws
from zsk.core.evaluate.combined import combined_route
from zsk.core.evaluate.embedding import CalibrationImages
from zsk.core.evaluate.headline import COMBINED, choose_headline, route_kind
from zsk.core.evaluate.metric_plugins import build_metrics
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.pseudo_unseen import pseudo_unseen_split
from zsk.core.evaluate.result import (
    CalibrationSummary,
    EvalResult,
    ImageCounts,
    RouteResult,
    discard_eval,
)
from zsk.core.evaluate.route_scores import RouteScores
from zsk.core.evaluate.routes import Evaluation, embedding_route, generative_routes
from zsk.core.evaluate.trained import TrainedRun, load_trained
from zsk.core.rundir.validation_run import trained_companion
from zsk.registry import UserError

NO_GENERATOR = "the spec trains no generator (empty generator objective)"
NO_EMBEDDING = "the run's discriminator has no embedding head (model.heads.embedding)"


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
    shared = _shared_samples(trained, train, source, options, log)
    test = test_seen + test_unseen
    mirrored = options.mirror_average and trained.build.spec.train.hflip and not data.is_features
    evaluation = Evaluation(
        data, source, test, device, options.batch_size, options.seed, shared, mirrored
    )
    routes, unavailable, scores = {}, {}, {}
    if "embedding" in gan.discriminator.heads:
        routes["embedding"], scores["embedding"] = embedding_route(gan, scorer, evaluation, log)
    else:
        unavailable["embedding"] = NO_EMBEDDING
    imagined, outcomes = None, {}
    if trained.build.objective.generator:
        splits = (train, test_seen, test_unseen)
        found = generative_routes(gan, scorer, evaluation, splits, options, metrics, log)
        routes |= found.routes
        imagined, outcomes, scores["generative"] = found.imagined, found.metrics, found.scores
    else:
        unavailable["generative"] = NO_GENERATOR
    _cross_fit_and_combine(routes, scores, log)
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


def _cross_fit_and_combine(
    routes: dict[str, RouteResult], scores: dict[str, RouteScores], log: Callable[[str], None]
) -> None:
    """Add each scored route's cross-fitted numbers to ``routes``, and the embedding and
    generative routes combined where the run has both."""
    for name, route_scores in scores.items():
        routes[name] = routes[name].model_copy(update={"cross_fitted": route_scores.cross_fitted()})
    if {"embedding", "generative"} <= set(scores):
        log("the embedding and generative routes combined")
        routes[COMBINED] = combined_route(scores["embedding"], scores["generative"])


def _shared_samples(
    trained: TrainedRun,
    train: LabelledImages,
    source: CalibrationSource,
    options: EvalOptions,
    log: Callable[[str], None],
) -> tuple[LabelledImages, LabelledImages] | None:
    """With ``options.carry_constant``, the validation run's and the run's training samples
    the constants are carried on (:func:`~.carry.shared_draws`); None without it, or where the
    constants are chosen on the run itself."""
    if not options.carry_constant:
        return None
    if source.scorer is trained:
        log("the constants are chosen on this run itself: applied as chosen, none to carry")
        return None
    picks = shared_draws(source.fit.labels, train.labels, source.images.seen, options.seed)
    return source.fit.subset(picks[0]), train.subset(picks[1])


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
