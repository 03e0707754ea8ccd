"""The headline's GZSL route is the one with the highest validation H, its ZSL route the run's
embedding route (without one, the highest cross-fitted ZSL top-1 on validation classes; the
GZSL route where a route has no cross-fitted numbers): test numbers play no part, an
uncalibrated route is never chosen, a tie goes to the route reported first, and eval.json
records which routes, their kinds and why."""

from __future__ import annotations

from zsk.core.evaluate.calibration import FAMILIAR
from zsk.core.evaluate.headline import (
    choose_headline,
    headline_mark,
    headline_sentence,
    route_kind,
)
from zsk.core.evaluate.result import (
    EvalResult,
    Headline,
    RouteResult,
    StagedEvalResult,
    read_staged_eval,
    write_eval,
)


def route(
    val_h: float | None,
    test_h: float,
    zsl: float,
    source: str = "validation run v",
    cross: tuple[float, float] | None = None,
) -> RouteResult:
    calibration = (
        None
        if val_h is None
        else {"gamma": 0.1, "val_u": val_h, "val_s": val_h, "val_h": val_h, "source": source}
    )
    gzsl = {
        "u": test_h,
        "s": test_h,
        "h": test_h,
        "ausuc": 0.1,
        "calibration": calibration,
        "uncalibrated": {"u": 0.0, "s": 1.0, "h": 0.0},
    }
    fitted = None if cross is None else {"h": cross[0], "zsl_top1": cross[1], "folds": 10}
    return RouteResult.model_validate({"zsl_top1": zsl, "gzsl": gzsl, "cross_fitted": fitted})


def test_the_highest_validation_h_wins_whatever_the_test_numbers():
    routes = {
        "recogniser/embedding": ("embedding", route(0.40, test_h=0.90, zsl=0.95)),
        "recogniser/generative": ("image-generative", route(0.20, test_h=0.80, zsl=0.90)),
        "features/generative": ("feature-generative", route(0.55, test_h=0.30, zsl=0.35)),
        "features/published_protocol": ("feature-generative", route(None, 0.99, zsl=0.99)),
    }
    headline = choose_headline(routes)
    assert headline is not None
    assert (headline.route, headline.kind) == ("features/generative", "feature-generative")
    assert (headline.zsl_route, headline.zsl_kind) == ("recogniser/embedding", "embedding")
    assert (headline.val_h, headline.zsl_top1, headline.h) == (0.55, 0.95, 0.30)
    assert headline.cross_fitted == {}
    assert headline.candidates == {
        "recogniser/embedding": 0.40,
        "recogniser/generative": 0.20,
        "features/generative": 0.55,
    }
    assert headline.why == (
        "for GZSL the highest GZSL H on validation classes (recogniser/embedding 0.400, "
        "recogniser/generative 0.200, features/generative 0.550); for ZSL the embedding route, "
        "which reads attributes directly; chosen on validation run v"
    )


def test_the_embedding_route_heads_zsl_over_a_higher_cross_fitted_top1():
    routes = {
        "r/embedding": ("embedding", route(0.70, 0.60, 0.70, cross=(0.66, 0.80))),
        "f/generative": ("feature-generative", route(0.80, 0.65, 0.95, cross=(0.69, 0.90))),
        "r/embedding+f/generative": (
            "embedding + feature-generative",
            route(0.90, 0.62, 0.75, cross=(0.68, 0.84)),
        ),
    }
    headline = choose_headline(routes)
    # GZSL: validation H 0.90 wins over the highest cross-fitted H (f/generative, 0.69)
    assert (headline.route, headline.h, headline.val_h) == ("r/embedding+f/generative", 0.62, 0.9)
    # ZSL: the embedding route, though f/generative's cross-fitted top-1 (0.90) is higher
    assert (headline.zsl_route, headline.zsl_kind, headline.zsl_top1) == (
        "r/embedding",
        "embedding",
        0.70,
    )
    assert headline.cross_fitted["f/generative"].h == 0.69
    assert headline.candidates["f/generative"] == 0.80
    assert [headline_mark(name, headline) for name in routes] == [
        "headline (ZSL)",
        "",
        "headline (GZSL)",
    ]
    assert headline_sentence(headline).startswith(
        "GZSL r/embedding+f/generative (embedding + feature-generative), calibrated H 62.0%; "
        "ZSL r/embedding (embedding), top-1 70.0%. Chosen as for GZSL the highest GZSL H"
    )


def test_without_an_embedding_route_cross_fitted_top1_chooses_the_zsl_route():
    routes = {
        "generative": ("feature-generative", route(0.80, 0.65, 0.70, cross=(0.69, 0.80))),
        "published_protocol": (
            "feature-generative (published protocol)",
            route(0.60, 0.62, 0.75, cross=(0.58, 0.84)),
        ),
    }
    headline = choose_headline(routes)
    assert (headline.route, headline.zsl_route, headline.zsl_top1) == (
        "generative",
        "published_protocol",
        0.75,
    )
    assert headline.why == (
        "for GZSL the highest GZSL H on validation classes (generative 0.800, "
        "published_protocol 0.600); for ZSL the highest cross-fitted top-1 (generative 0.800, "
        "published_protocol 0.840), each fold of validation images predicted with the settings "
        "the route chose on the others (10 folds by held-out class); chosen on validation run v"
    )
    # one calibrated route without cross-fitted numbers: the ZSL route is the GZSL route
    routes["other"] = ("feature-generative (other)", route(0.95, 0.1, 0.1))
    fallback = choose_headline(routes)
    assert fallback.route == fallback.zsl_route == "other"
    assert headline_mark("other", fallback) == "headline"
    assert headline_mark("other", None) == ""
    assert headline_sentence(fallback).startswith(
        "other (feature-generative (other)): ZSL top-1 10.0%, calibrated GZSL H 10.0%. Chosen "
        "as the highest GZSL H on validation classes"
    )
    assert fallback.cross_fitted == {}


def test_a_lone_embedding_route_is_chosen_for_both_tasks_in_one_sentence():
    headline = choose_headline({"embedding": ("embedding", route(0.4, 0.3, 0.5))})
    assert headline.route == headline.zsl_route == "embedding"
    assert headline.why == (
        "the highest GZSL H on validation classes (embedding 0.400); chosen on validation run v"
    )


def test_a_tie_goes_to_the_first_route_and_no_calibrated_route_gives_no_headline():
    tie = {
        "embedding": ("embedding", route(0.5, test_h=0.1, zsl=0.1)),
        "generative": ("image-generative", route(0.5, test_h=0.9, zsl=0.9)),
    }
    assert choose_headline(tie).route == "embedding"
    fitted_tie = {
        "generative": ("feature-generative", route(0.5, 0.1, 0.1, cross=(0.7, 0.7))),
        "published": ("feature-generative (published)", route(0.5, 0.9, 0.9, cross=(0.9, 0.7))),
    }
    tied = choose_headline(fitted_tie)
    assert tied.route == tied.zsl_route == "generative"
    assert choose_headline({"p": ("feature-generative", route(None, 0.5, 0.5))}) is None
    assert choose_headline({}) is None


def test_validation_numbers_equal_but_for_rounding_tie():
    """Ten classes each right on every image, their accuracies summed a tenth at a time: H
    just below 1 in floating point, which must tie with a route's exact 1."""
    summed = sum([0.1] * 10)
    assert summed < 1.0
    routes = {
        "recogniser/embedding": ("embedding", route(summed, test_h=1.0, zsl=1.0)),
        "features/generative": ("feature-generative", route(1.0, test_h=0.9, zsl=0.9)),
    }
    assert choose_headline(routes).route == "recogniser/embedding"
    cross = {
        "generative": ("feature-generative", route(0.5, 0.1, 0.1, cross=(0.7, summed))),
        "published": ("feature-generative (published)", route(0.4, 0.9, 0.9, cross=(0.9, 1.0))),
    }
    assert choose_headline(cross).zsl_route == "generative"
    ahead = {
        "recogniser/embedding": ("embedding", route(1.0 - 1e-6, test_h=1.0, zsl=1.0)),
        "features/generative": ("feature-generative", route(1.0, test_h=0.9, zsl=0.9)),
    }
    assert choose_headline(ahead).route == "features/generative"


def test_a_self_calibrated_choice_says_so():
    headline = choose_headline({"embedding": ("embedding", route(0.3, 0.3, 0.3, FAMILIAR))})
    assert "a choice on classes the run trained on" in headline.why


def test_route_kinds():
    assert route_kind("embedding", features=True) == "embedding"
    assert route_kind("generative", features=False) == "image-generative"
    assert route_kind("generative", features=True) == "feature-generative"
    assert (
        route_kind("published_protocol", features=True) == "feature-generative (published protocol)"
    )


def test_a_staged_result_round_trips_with_its_headline(tmp_path):
    stage = {
        "run": "runs/x/a",
        "checkpoint": "step-3.safetensors",
        "step": 3,
        "seed": 0,
        "routes": {"embedding": route(0.5, 0.4, 0.6).model_dump()},
        "calibration": {"source": "v", "seen_images": 4, "unseen_images": 6},
        "images": {"train": 10, "test_seen": 4, "test_unseen": 6},
    }
    one = EvalResult.model_validate(stage)
    headline = choose_headline({"a/embedding": ("embedding", one.routes["embedding"])})
    staged = StagedEvalResult(
        run="runs/x", stages={"a": one}, kinds={"a/embedding": "embedding"}, headline=headline
    )
    write_eval(tmp_path, staged)
    back = read_staged_eval(tmp_path)
    assert back == staged and isinstance(back.headline, Headline)
    assert back.stages["a"].routes["embedding"].gzsl.calibration.val_h == 0.5
