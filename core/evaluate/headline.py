"""The headline routes of an evaluation: of every route a run (or a staged run's stages) can
take, the ones validation classes say are best, for GZSL and for ZSL; never test data.

Each route chose its settings and calibration constant where the field's protocol says, on a
validation run's held-out classes (or, without one, on classes held out of the run's own
training images). The field reports ZSL and GZSL apart (f-CLSWGAN trains a classifier for
each), and so does the headline: each task's route is the best at it by a rule measured on
fresh draws of the evaluation zoo (docs/studies.md). For GZSL that is the highest validation H
(``gzsl.calibration.val_h``). For ZSL it is the run's embedding route wherever it has one: it
reads the unseen classes' attributes directly, and a few held-out classes are too few to pick
a better ZSL route (chosen by cross-fitted top-1, the ZSL route's mean test top-1 was below the
embedding route's on nine of eleven draws, above it on one; docs/features.md). A run without an
embedding route takes the highest cross-fitted top-1 (:mod:`.cross_fit`: each held-out class's
images predicted with the settings chosen on the other validation images), which does not
flatter the routes that choose among many settings. Cross-fitted H was tried for GZSL too and
chose routes of lower or equal mean test H on every draw measured.
The test numbers of the routes play no part in either choice.
"""

from __future__ import annotations

from zsk.core.evaluate.calibration import FAMILIAR
from zsk.core.evaluate.merit import best
from zsk.core.evaluate.result import CrossFitRecord, Headline, RouteResult

#: What each route of a run is, by the run's kind of samples.
EMBEDDING, IMAGE_GENERATIVE, FEATURE_GENERATIVE = (
    "embedding",
    "image-generative",
    "feature-generative",
)


#: The route that combines a run's embedding and generative routes (:mod:`.combined`).
COMBINED = "combined"


def combined_kind(generative_kind: str) -> str:
    """The kind of a route combining the embedding route with one of ``generative_kind``."""
    return f"{EMBEDDING} + {generative_kind}"


def route_kind(route: str, features: bool) -> str:
    """``embedding``, ``image-generative`` or ``feature-generative`` for a route of a run that
    trains on images or (``features``) on feature vectors; ``embedding + ...`` for the two
    combined; another route of imagined samples (f-CLSWGAN's published protocol) is its
    generative kind with its name beside it."""
    if route == "embedding":
        return EMBEDDING
    kind = FEATURE_GENERATIVE if features else IMAGE_GENERATIVE
    if route == COMBINED:
        return combined_kind(kind)
    return kind if route == "generative" else f"{kind} ({route.replace('_', ' ')})"


def choose_headline(routes: dict[str, tuple[str, RouteResult]]) -> Headline | None:
    """The headline among ``routes`` (name -> (kind, result), in the order they are reported):
    for GZSL the highest validation H; for ZSL the first embedding route, else the highest
    cross-fitted ZSL top-1, else the GZSL route (a calibrated route without cross-fitted
    numbers). The earlier route wins a tie. None when no route was calibrated."""
    calibrated = {
        name: (kind, result, calibration)
        for name, (kind, result) in routes.items()
        if (calibration := result.gzsl.calibration) is not None
    }
    if not calibrated:
        return None
    val_h = {name: calibration.val_h for name, (_, _, calibration) in calibrated.items()}
    fitted = {name: result.cross_fitted for name, (_, result, _) in calibrated.items()}
    source = next(iter(calibrated.values()))[2].source
    gzsl = _first_best(val_h)
    compared = ", ".join(f"{name} {value:.3f}" for name, value in val_h.items())
    why = f"the highest GZSL H on validation classes ({compared})"
    cross = {name: record for name, record in fitted.items() if record is not None}
    if len(cross) < len(fitted):
        cross = {}
    embedding = [name for name, (kind, _, _) in calibrated.items() if kind == EMBEDDING]
    if embedding:
        zsl = embedding[0]
        if len(calibrated) > 1:
            why = f"for GZSL {why}; for ZSL the embedding route, which reads attributes directly"
    elif cross:
        zsl = _first_best({name: record.zsl_top1 for name, record in cross.items()})
        why = f"for GZSL {why}; for ZSL {_cross_fitted_why(cross)}"
    else:
        zsl = gzsl
    why += f"; chosen on {source}"
    if source == FAMILIAR:
        why += " (no validation run held classes out: a choice on classes the run trained on)"
    kind, result, _ = calibrated[gzsl]
    zsl_kind, zsl_result, _ = calibrated[zsl]
    return Headline(
        route=gzsl,
        kind=kind,
        val_h=val_h[gzsl],
        h=result.gzsl.h,
        zsl_route=zsl,
        zsl_kind=zsl_kind,
        zsl_top1=zsl_result.zsl_top1,
        why=why,
        candidates=val_h,
        cross_fitted=cross,
    )


def _first_best(values: dict[str, float]) -> str:
    """The name of the highest value; the first among equals."""
    names = list(values)
    return names[best([values[name] for name in names])]


def _cross_fitted_why(cross: dict[str, CrossFitRecord]) -> str:
    zsl = ", ".join(f"{name} {record.zsl_top1:.3f}" for name, record in cross.items())
    folds = next(iter(cross.values())).folds
    return (
        f"the highest cross-fitted top-1 ({zsl}), each fold of validation images predicted "
        f"with the settings the route chose on the others ({folds} folds by held-out class)"
    )


def headline_sentence(headline: Headline) -> str:
    """The headline in words: each task's route, its test number, and why."""
    if headline.zsl_route == headline.route:
        routes = (
            f"{headline.route} ({headline.kind}): ZSL top-1 {100 * headline.zsl_top1:.1f}%, "
            f"calibrated GZSL H {100 * headline.h:.1f}%"
        )
    else:
        routes = (
            f"GZSL {headline.route} ({headline.kind}), calibrated H {100 * headline.h:.1f}%; "
            f"ZSL {headline.zsl_route} ({headline.zsl_kind}), top-1 "
            f"{100 * headline.zsl_top1:.1f}%"
        )
    return f"{routes}. Chosen as {headline.why}."


def headline_mark(name: str, headline: Headline | None) -> str:
    """What the headline makes of route ``name``: '', 'headline', or the task it heads."""
    if headline is None:
        return ""
    tasks = [
        task
        for task, route in (("GZSL", headline.route), ("ZSL", headline.zsl_route))
        if route == name
    ]
    return "headline" if len(tasks) == 2 else (f"headline ({tasks[0]})" if tasks else "")
