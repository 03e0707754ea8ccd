"""How well a calibration constant chosen on a validation run carries over to the full run:
rules for choosing it, compared on the embedding route of a zoo grid's finished runs.

    python -m benchmarks.studies.zoo.calibration_rules GRID_OUT [--into FILE]
    python -m benchmarks.studies.zoo.calibration_rules --table FILE

GZSL's calibrated stacking subtracts one constant γ from every seen-class score. zsk chooses
it where the field's protocol says, on a validation run trained without some seen classes;
the constant is then applied to another network (the full run), trained on more classes and
for more steps, whose scores need not have the same seen-class bias. With two to eight
held-out classes the validation H curve is also rough, and its exact maximum may sit on a
spike. For every recogniser of a grid (each set and seed: the no-GAN twin and the two-stage
route's first stage), this study scores the validation run's held-out images and the full
run's test images once and applies each rule of :data:`RULES` to the validation scores; the
test images only receive the constant. ``test-best`` (the highest test H over every constant)
is not a rule, only how much any rule could gain. One record per run in the results file.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.studies.results import find, markdown_table, put, read, study_arguments, tabled
from benchmarks.studies.zoo.sets import SETS
from zsk.core.components.metric_inputs import LabelledImages
from zsk.core.data.loader import load_split_images
from zsk.core.evaluate.calibration import holdout_images
from zsk.core.evaluate.carry import SharedScores, carried, margins, shared_draws
from zsk.core.evaluate.embedding import class_scores
from zsk.core.evaluate.protocol import (
    best_nearest_zero,
    choose_calibration,
    gzsl_accuracy,
    restrict,
)
from zsk.core.evaluate.trained import TrainedRun, load_trained

#: The fields that name one recogniser in the results file.
KEY = ("set", "seed", "recogniser")
#: Where each recogniser sits in a grid's run folder of one set and seed.
RECOGNISERS = {"no-GAN twin": "no-gan", "two-stage first stage": "two-stage/recogniser"}
#: The constants the fixed-grid rules consider: the hand-written learner's grid, and a finer,
#: wider one for smoothing (cosine differences lie in [-2, 2]).
HAND_GRID = torch.linspace(-0.5, 1.0, 151, dtype=torch.float64)
FINE_GRID = torch.linspace(-1.5, 1.5, 301, dtype=torch.float64)
#: Half the width, in γ, of the window the smoothed rule averages H over.
SMOOTHING = 0.05

Scores = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (scores, labels, seen mask)


@dataclass(frozen=True)
class Margins:
    """On training images of the classes both runs trained on (each run's own), each image's
    best seen-class score less its best unseen-side score (the constant above which it is sent
    to the unseen side), in the validation network (its held-out classes on the unseen side)
    and in the full run's (the data set's unseen classes there): operating points on each
    network's own scale."""

    validation: torch.Tensor
    full: torch.Tensor


@dataclass(frozen=True)
class Validation:
    """The validation run's scores of its held-out images: over its seen and held-out classes
    (``plain``, what zsk chooses on by default), and over those and the data set's unseen
    classes, which compete on the unseen side as distractors (``with_unseen``, what ``zsk eval
    --unseen-as-distractors`` chooses on); and both networks' :class:`Margins`."""

    plain: Scores
    with_unseen: Scores
    margins: Margins


def h_at(scores: Scores, gammas: torch.Tensor) -> torch.Tensor:
    """GZSL H of ``scores`` at each constant of ``gammas``."""
    values, labels, mask = scores
    return torch.tensor(
        [gzsl_accuracy(values, labels, mask, float(gamma)).h for gamma in gammas],
        dtype=torch.float64,
    )


def exact(validation: Validation) -> float:
    """zsk's rule: the exact maximum of the validation H curve, nearest 0 among ties."""
    return choose_calibration(*validation.plain).gamma


def with_unseen_distractors(validation: Validation) -> float:
    """The exact maximum of the validation H curve when the data set's unseen classes are
    candidates too (on the unseen side, as in the test): the seen images then meet the unseen
    classes they will meet in the test, which the class attributes alone make possible."""
    return choose_calibration(*validation.with_unseen).gamma


def hand_grid(validation: Validation) -> float:
    """The hand-written learner's rule: the first best of 151 constants in [-0.5, 1]."""
    h = h_at(validation.plain, HAND_GRID)
    return float(HAND_GRID[int(torch.argmax(h))])


def smoothed(validation: Validation) -> float:
    """The maximum of the validation H curve averaged over a window of ± :data:`SMOOTHING`,
    nearest 0 among ties: a plateau wins over a spike of the same height."""
    return smoothed_best(h_at(validation.plain, FINE_GRID), FINE_GRID)


def smoothed_best(h: torch.Tensor, gammas: torch.Tensor) -> float:
    """The constant of evenly spaced ``gammas`` whose H, averaged with its neighbours within
    ± :data:`SMOOTHING` (the ends repeated), is highest; nearest 0 among ties."""
    half = round(SMOOTHING / float(gammas[1] - gammas[0]))
    kernel = torch.ones(1, 1, 2 * half + 1, dtype=torch.float64) / (2 * half + 1)
    padded = torch.nn.functional.pad(h.view(1, 1, -1), (half, half), mode="replicate")
    average = torch.nn.functional.conv1d(padded, kernel).view(-1)
    return float(gammas[best_nearest_zero(average, gammas)])


def median_shifted(validation: Validation) -> float:
    """The exact maximum moved by how far the full run's median margin lies from the
    validation network's."""
    margins = validation.margins
    shift = torch.quantile(margins.full, 0.5) - torch.quantile(margins.validation, 0.5)
    return exact(validation) + float(shift)


def share_matched(validation: Validation) -> float:
    """``zsk eval``'s carried constant (:func:`zsk.core.evaluate.carry.carried`): the constant
    that sends as large a share of the training images to the unseen side in the full run as
    the exact maximum does in the validation network."""
    found = choose_calibration(*validation.plain)
    return carried(found, validation.margins.validation, validation.margins.full).gamma


def uncalibrated(validation: Validation) -> float:
    """No calibration: γ = 0."""
    return 0.0


RULES: dict[str, Callable[[Validation], float]] = {
    "exact maximum (zsk)": exact,
    "exact maximum, the unseen classes as distractors": with_unseen_distractors,
    "hand-written learner's grid": hand_grid,
    "smoothed maximum": smoothed,
    "exact maximum, shifted by the median margin": median_shifted,
    "exact maximum's share of training images sent unseen": share_matched,
    "uncalibrated": uncalibrated,
}
TEST_BEST = "test-best (not a rule)"
VALIDATION_NETWORK = "the validation run on the test classes"


def gzsl_scores(scores: torch.Tensor, labels: torch.Tensor, seen: list, unseen: list) -> Scores:
    """Scores over ``seen + unseen`` with labels as positions and the seen mask."""
    classes = sorted(seen + unseen)
    narrow, positions = restrict(scores, labels, classes)
    return narrow, positions, torch.tensor([c in set(seen) for c in classes])


def _test_images(trained) -> tuple[torch.Tensor, torch.Tensor]:
    data, size = trained.build.data, trained.build.dims.image_size
    parts = [load_split_images(data, split, size) for split in ("test_seen", "test_unseen")]
    return torch.cat([images for images, _ in parts]), torch.cat([labels for _, labels in parts])


def _margins(
    runs: tuple[TrainedRun, TrainedRun], seen: list[int], held_out: list[int], device
) -> Margins:
    """Both networks' margins as ``zsk eval`` reads them to carry a constant: each on a draw of
    its own run's training images of ``seen`` (the classes both trained on), the validation
    network's against ``held_out``, the full run's against the data set's unseen classes."""
    validation_run, trained = runs
    size = trained.build.dims.image_size
    fit, train = (LabelledImages(*load_split_images(run.build.data, "train", size)) for run in runs)
    picks = shared_draws(fit.labels, train.labels, seen, seed=0)
    samples = (fit.subset(picks[0]), train.subset(picks[1]))
    judge, full, data = (
        validation_run.build.gan.eval(),
        trained.build.gan.eval(),
        trained.build.data,
    )
    shared = SharedScores.read(
        samples,
        lambda images: class_scores(judge, data, images, device, 256),
        lambda images: class_scores(full, data, images, device, 256),
    )
    return Margins(
        margins(shared.validation, seen, held_out), margins(shared.run, data.seen, data.unseen)
    )


def recogniser_scores(run: Path) -> tuple[Validation, Scores, Scores]:
    """The validation run's scores on its held-out images, the run's on its test images, and
    the validation run's on the test images of its own seen classes and the unseen classes."""
    device = torch.device("cpu")
    validation_run, trained = load_trained(run / "validation"), load_trained(run)
    judge, data = validation_run.build.gan.eval(), validation_run.build.data
    full = trained.build.gan.eval()
    held_out = holdout_images(validation_run, distractors=True)
    values = class_scores(judge, data, held_out.images.images, device, 256)
    labels = held_out.images.labels
    full_data = trained.build.data
    shared = _margins((validation_run, trained), held_out.seen, held_out.unseen, device)
    validation = Validation(
        gzsl_scores(values, labels, held_out.seen, held_out.unseen),
        gzsl_scores(values, labels, held_out.seen, held_out.unseen_side),
        shared,
    )
    images, labels = _test_images(validation_run)
    own = torch.isin(labels, torch.tensor(data.seen + data.unseen))
    values = class_scores(judge, data, images[own], device, 256)
    judge_on_test = gzsl_scores(values, labels[own], data.seen, data.unseen)
    images, labels = _test_images(trained)  # the validation run's test splits differ
    values = class_scores(full, full_data, images, device, 256)
    test = gzsl_scores(values, labels, full_data.seen, full_data.unseen)
    return validation, test, judge_on_test


def _best(scores: Scores) -> dict[str, float]:
    """The highest H over every constant, and the constant nearest 0 that gives it."""
    found = choose_calibration(*scores)
    return {"gamma": found.gamma, "h": found.h}


def measure(run: Path) -> dict[str, dict[str, float]]:
    """Each rule's constant and the test u, s, H it gives; the test-best constant and H; and,
    to tell the network apart from the classes, the validation run's own test-best constant
    and H on the test images of its seen classes and the unseen classes (its held-out classes
    swapped for the real unseen ones), and its H there at the constant the exact rule chose."""
    validation, test, judge_on_test = recogniser_scores(run)
    found = {}
    for name, rule in RULES.items():
        gamma = rule(validation)
        result = gzsl_accuracy(*test, gamma)
        found[name] = {"gamma": gamma, "u": result.u, "s": result.s, "h": result.h}
    found[TEST_BEST] = _best(test)
    chosen = found[next(iter(RULES))]["gamma"]
    found[VALIDATION_NETWORK] = _best(judge_on_test) | {
        "h_at_chosen": gzsl_accuracy(*judge_on_test, chosen).h
    }
    return found


def run_study(grid: Path, out: Path) -> None:
    """Measure every finished recogniser of the zoo grid in ``grid`` into ``out``."""
    for name in SETS:
        for folder in sorted((grid / "runs").glob(f"{name}-s*")):
            seed = int(folder.name.rsplit("-s", 1)[1])
            for label, where in RECOGNISERS.items():
                record = {"set": name, "seed": seed, "recogniser": label}
                if find(read(out), **record) is not None or not (folder / where).is_dir():
                    continue
                print(f"{name} seed {seed}: {label}", flush=True)
                put(out, record | {"rules": measure(folder / where)}, KEY)


def table(path: Path) -> str:
    """Per set, each rule's test H (mean ± std over every recogniser and seed), then the mean
    over the sets and on how many sets each rule's mean is above the exact maximum's."""
    records = read(path)
    names = [*RULES, TEST_BEST]
    rows, means = [], {rule: [] for rule in names}
    for name in SETS:
        runs = [record["rules"] for record in records if record["set"] == name]
        if not runs:
            continue
        cells = []
        for rule in names:
            values = [run[rule]["h"] for run in runs]
            means[rule].append(statistics.mean(values))
            cells.append(f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
        rows.append((name, len(runs), *cells))
    reference = means[names[0]]
    rows.append(("mean over sets", "", *(f"{statistics.mean(means[r]):.3f}" for r in names)))
    above = [sum(a > b for a, b in zip(means[r], reference, strict=True)) for r in names]
    rows.append(("sets above the exact maximum", "", *above))
    return markdown_table(("set", "runs", *names), rows)


def main(argv: list[str] | None = None) -> None:
    parser = study_arguments(__doc__)
    parser.add_argument("--into", type=Path, help="results file (default: GRID_OUT's own)")
    args = parser.parse_args(argv)
    if tabled(args, table):
        return
    run_study(args.out, args.into or args.out / "calibration-rules.jsonl")


if __name__ == "__main__":
    main()
