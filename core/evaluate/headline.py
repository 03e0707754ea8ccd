"""The headline route of an evaluation: of every route a run (or a staged run's stages) can
take, the one with the highest GZSL H on validation classes, never on test data.

Each route's calibration constant was chosen where the field's protocol says, on a validation
run's held-out classes (or, without one, on classes held out of the run's own training images),
and the H it reached there (``gzsl.calibration.val_h``) is what the headline compares: the test
numbers of the routes play no part in the choice.
"""

from __future__ import annotations

from zsk.core.evaluate.calibration import FAMILIAR
from zsk.core.evaluate.result import Headline, RouteResult

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
    """The route of ``routes`` (name -> (kind, result), in the order they are reported) with
    the highest validation H; the earlier one on a tie. None when no route was calibrated."""
    calibrated = {
        name: (kind, result, calibration)
        for name, (kind, result) in routes.items()
        if (calibration := result.gzsl.calibration) is not None
    }
    if not calibrated:
        return None
    candidates = {name: calibration.val_h for name, (_, _, calibration) in calibrated.items()}
    best = max(candidates, key=lambda name: (candidates[name], -list(candidates).index(name)))
    kind, result, calibration = calibrated[best]
    source = calibration.source
    compared = ", ".join(f"{name} {value:.3f}" for name, value in candidates.items())
    why = f"the highest GZSL H on validation classes ({compared}); chosen on {source}"
    if source == FAMILIAR:
        why += " (no validation run held classes out: a choice on classes the run trained on)"
    return Headline(
        route=best,
        kind=kind,
        val_h=candidates[best],
        zsl_top1=result.zsl_top1,
        h=result.gzsl.h,
        why=why,
        candidates=candidates,
    )
