"""The two routes of one run's evaluation, each with its constant chosen on validation classes
(and, unless ``zsk eval --no-carry-constant``, carried into the run's scale, :mod:`.carry`) and its
scores kept for the combined routes: the embedding route, and the generative route with what
is judged of its imagined samples (attribute accuracy, the metric plugins)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from zsk.core.build.model import GAN
from zsk.core.components.interfaces import Metric
from zsk.core.components.metric_inputs import LabelledImages, MetricInputs
from zsk.core.components.zsl_data import ZslData
from zsk.core.evaluate.attribute_probe import (
    attribute_accuracy,
    binarize,
    predicate_accuracy,
    train_probe,
)
from zsk.core.evaluate.calibration import CalibrationSource
from zsk.core.evaluate.carry import SharedScores
from zsk.core.evaluate.classifier import EPOCHS
from zsk.core.evaluate.embedding import class_scores, embedding_calibration, evaluate_embedding
from zsk.core.evaluate.generative import (
    Imagining,
    choose_imagining,
    final_classifier,
    generative_route,
    scored,
)
from zsk.core.evaluate.metric_plugins import compute_metrics
from zsk.core.evaluate.options import EvalOptions
from zsk.core.evaluate.published_protocol import published_protocol
from zsk.core.evaluate.result import AttributeProbe, ImaginedRecord, MetricOutcome, RouteResult
from zsk.core.evaluate.route_scores import Classes, RouteScores, carry

#: Generated samples per unseen class and classifier epochs the evaluation chooses among on
#: validation classes, for an image run and for a feature run (f-CLSWGAN's published counts
#: are 100 to 1200 features per class; a few hundred images already take minutes on a CPU).
IMAGE_CHOICES = {"images_per_class": (64,), "classifier_epochs": (EPOCHS,)}
FEATURE_CHOICES = {"images_per_class": (100, 300, 1200), "classifier_epochs": (10, 30)}


@dataclass(frozen=True)
class Evaluation:
    """What every route of one evaluation reads: the run's data, where its constants are
    chosen, the test images, and ``shared``: the validation run's and the run's training
    samples that carry the constants into the run's scale (None: applied as chosen)."""

    data: ZslData
    source: CalibrationSource
    test: LabelledImages
    device: torch.device
    batch_size: int
    seed: int
    shared: tuple[LabelledImages, LabelledImages] | None = None
    #: average each image's embedding with its mirror image's (:func:`.embedding.class_scores`)
    mirrored: bool = False

    def shared_scores(
        self,
        validation_scores: Callable[[torch.Tensor], torch.Tensor],
        run_scores: Callable[[torch.Tensor], torch.Tensor],
    ) -> SharedScores | None:
        """A route's scores on the shared training samples (:meth:`.SharedScores.read`); None
        where the constants are applied as chosen."""
        if self.shared is None:
            return None
        return SharedScores.read(self.shared, validation_scores, run_scores)

    @property
    def classes(self) -> Classes:
        validation = self.source.images
        return Classes(
            self.data.seen,
            self.data.unseen,
            validation.seen,
            validation.unseen,
            validation.distractors,
        )

    def route_scores(
        self,
        candidates: tuple[torch.Tensor, ...],
        validation_scores: torch.Tensor,
        test_scores: torch.Tensor,
        shared: SharedScores | None,
    ) -> RouteScores:
        """A route's scores on the validation images (every candidate's, and the chosen
        one's), on the test images and on the shared training samples."""
        validation = self.source.images
        return RouteScores(
            validation_scores,
            validation.images.labels,
            test_scores,
            self.test.labels,
            self.classes,
            validation.source,
            candidates,
            shared,
        )


def embedding_route(
    gan: GAN, scorer: GAN, evaluation: Evaluation, log: Callable[[str], None]
) -> tuple[RouteResult, RouteScores]:
    """The embedding route of ``gan``, its constant chosen by ``scorer`` on the validation
    images, and its scores."""
    log("embedding zero-shot accuracy")
    data, device, batch = evaluation.data, evaluation.device, evaluation.batch_size
    source, mirrored = evaluation.source, evaluation.mirrored
    calibration, validation_scores = embedding_calibration(
        scorer, source.scorer.build.data, source.images, device, batch, mirrored
    )
    shared = evaluation.shared_scores(
        lambda images: class_scores(scorer, data, images, device, batch, mirrored),
        lambda images: class_scores(gan, data, images, device, batch, mirrored),
    )
    calibration = carry(calibration, shared, evaluation.classes)
    where = source.images.source
    route, test_scores = evaluate_embedding(
        gan, data, evaluation.test, calibration, where, device, batch, mirrored
    )
    return route, evaluation.route_scores((), validation_scores, test_scores, shared)


@dataclass(frozen=True)
class GenerativeRoutes:
    """The generative route (and, for a feature run, f-CLSWGAN's published protocol), what
    its imagined samples gave, and its scores."""

    routes: dict[str, RouteResult]
    imagined: ImaginedRecord
    metrics: dict[str, MetricOutcome]
    scores: RouteScores


def generative_routes(
    gan: GAN,
    scorer: GAN,
    evaluation: Evaluation,
    splits: tuple[LabelledImages, LabelledImages, LabelledImages],
    options: EvalOptions,
    metrics: dict[str, Metric],
    log: Callable[[str], None],
) -> GenerativeRoutes:
    """Generative ZSL/GZSL of a run whose spec trains a generator, and what is judged of its
    imagined samples (attribute accuracy, ``metrics``); ``splits`` are the train, test_seen
    and test_unseen images."""
    data, source = evaluation.data, evaluation.source
    defaults = FEATURE_CHOICES if data.is_features else IMAGE_CHOICES
    per_class = options.images_per_class or defaults["images_per_class"]
    epochs = options.classifier_epochs or defaults["classifier_epochs"]
    log(f"imagining {', '.join(map(str, per_class))} samples per class and fitting classifiers")
    how = Imagining(per_class[0], evaluation.device, evaluation.batch_size, evaluation.seed)
    scorer_data = source.scorer.build.data
    chosen = choose_imagining(
        scorer, scorer_data, source.fit, source.images, how, per_class, epochs
    )
    classifier, imagined = final_classifier(gan, data, splits[0], chosen.how)
    test_scores = scored(gan, classifier, evaluation.test.images, data, chosen.how)
    shared = evaluation.shared_scores(
        lambda images: scored(scorer, chosen.classifier, images, scorer_data, chosen.how),
        lambda images: scored(gan, classifier, images, data, chosen.how),
    )
    calibration = carry(chosen.calibration, shared, evaluation.classes)
    where = source.images.source
    routes = {
        "generative": generative_route(
            data, evaluation.test, test_scores, calibration, where, chosen
        )
    }
    if data.is_features:
        log("f-CLSWGAN's own ZSL and GZSL classifiers (uncalibrated, as published)")
        routes["published_protocol"] = published_protocol(
            gan, data, splits[0], evaluation.test, evaluation.device, evaluation.seed
        )
    record = attribute_record(evaluation, imagined, splits, options.probe_steps, log)
    if metrics:
        log(f"metrics: {', '.join(metrics)}")
    inputs = MetricInputs(
        data, *splits, imagined, gan, evaluation.device, evaluation.batch_size, evaluation.seed
    )
    scores = evaluation.route_scores(
        chosen.every_validation_scores, chosen.validation_scores, test_scores, shared
    )
    return GenerativeRoutes(routes, record, compute_metrics(metrics, inputs), scores)


def attribute_record(
    evaluation: Evaluation,
    imagined: LabelledImages,
    splits: tuple[LabelledImages, LabelledImages, LabelledImages],
    probe_steps: int,
    log: Callable[[str], None],
) -> ImaginedRecord:
    """How well the imagined unseen samples carry their attributes, judged by a probe trained
    on the real training images (its accuracy on real test images beside, as the reference)."""
    train, test_seen, test_unseen = splits
    data, device, batch = evaluation.data, evaluation.device, evaluation.batch_size
    log(f"training the attribute probe ({probe_steps} steps)")
    binary, rule = binarize(data.attributes)
    probe = train_probe(train, binary, probe_steps, device, evaluation.seed)

    def accuracy(images: LabelledImages) -> float:
        return attribute_accuracy(probe, images, binary, device, batch)

    def per_predicate(images: LabelledImages) -> dict[str, float]:
        values = predicate_accuracy(probe, images, binary, device, batch).tolist()
        return dict(zip(data.predicates, values, strict=True))

    return ImaginedRecord(
        attribute_accuracy=accuracy(imagined),
        probe=AttributeProbe(
            real_test_seen=accuracy(test_seen),
            real_test_unseen=accuracy(test_unseen),
            threshold=rule,
            steps=probe_steps,
            per_predicate={
                "imagined_unseen": per_predicate(imagined),
                "real_test_unseen": per_predicate(test_unseen),
            },
        ),
    )
