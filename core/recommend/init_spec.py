"""``zsk init``'s recommended starting spec, sized to a data set and a compute budget.

What the data decides: the reader (AwA2 layout or image folders) and its attribute scale, the
image size (the smallest the generator supports that is at least the training images' median
side, capped by ``max_image_size``), and the training length. Only training images are read:
no test image influences the spec. The length comes from the budget: the process CPU one real
training step (every update its objective makes) takes on this machine, timed on the threads
the spec pins, after the CPU the training process spends besides its steps, for the steps of
the run and of the validation run that chooses GZSL's calibration (``validation_run``), each
counted as the trainer counts them (whole batches of its own training images). Timing the
step, not counting its FLOPs at a fixed rate, is what makes the stated budget hold on another
machine: the CPU a FLOP costs differed by a third between the two machines the zoo ran on
(BENCHMARKS.md §6). The spec file, not ``zsk init``, is what reproduces a run: the same command
may write a few epochs more or less on another machine or under another load.

The networks and settings of each route are in :mod:`zsk.core.recommend.recipes`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from zsk.core.build.composer import compose, load_data
from zsk.core.data.folder_formats import folder_formats, load_folder
from zsk.core.data.holdout import apply_holdout
from zsk.core.recommend.recipes import route_sections
from zsk.core.spec.loading import validate_spec
from zsk.core.spec.sections import HoldoutSpec, Spec
from zsk.core.train.loop import Trainer
from zsk.registry import UserError

#: Image sizes the built-in generator draws (its depth follows the size).
IMAGE_SIZES = (32, 64, 128)
#: Process CPU seconds a ``zsk train`` process spends besides its steps (starting Python and
#: torch, reading the images, building both runs, checkpoints): fitted to the process CPU of
#: ``zsk train`` on the zoo's grids with both cores busy, as a shared machine usually is, and
#: confirmed with timed steps on another machine (BENCHMARKS.md §6).
PROCESS_SECONDS = 5.0
#: Process CPU seconds the two-stage route's feature stage adds (extracting φ(x) for both runs,
#: the regulariser's classifiers, the feature GAN and its validation run), kept out of the
#: recogniser's share of the budget: the median, over the zoo's sets, of a two-stage run's
#: CPU beyond its recogniser's share (BENCHMARKS.md §6).
FEATURE_STAGE_SECONDS = 2.5
#: Windows a step is timed in, and the wall seconds slept between them (no process CPU): the
#: median window sizes the run, so a slowdown of the machine that passes within a window or
#: two does not (one such timing read a step at twice its usual cost on a zoo grid).
TIMING_WINDOWS = 5
WINDOW_GAP_SECONDS = 0.25


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
    root: Path, name: str, image_size: int, route: str, epochs: int, seed: int = 0
) -> dict[str, Any]:
    """The spec of ``route`` (:mod:`zsk.core.recommend.recipes`) as a plain dict, with the
    data section for ``root`` and a validation run. ``seed`` seeds training and draws the
    validation run's held-out classes, so runs of several seeds are judged on several draws
    of held-out classes, not all on one. ``epochs`` is the caller's: :func:`epochs_for` sizes
    each spec to the budget from its own step."""
    return {
        "name": name,
        "data": _data_section(root),
        **route_sections(route, image_size, epochs, seed),
        "validation_run": {"seed": seed},
    }


def validated_spec(spec: dict[str, Any]) -> Spec:
    """``spec`` (a plain dict) validated as a spec file is, its plugins resolved."""
    return validate_spec(spec, source="the recommended spec")


def num_attributes(spec: dict[str, Any]) -> int:
    """The number of attributes of ``spec``'s data set."""
    return int(load_data(validated_spec(spec)).attributes.shape[1])


def training_images(spec: dict[str, Any]) -> list[Path]:
    """The training images of ``spec``'s data set (never a test image)."""
    return [sample.path for sample in load_data(validated_spec(spec)).train]


@dataclasses.dataclass(frozen=True)
class DataFit:
    """How a route's spec fits a data set: its batch, whether a validation run fits, and the
    training images of the run and of its validation run (0 without one)."""

    batch_size: int
    validation_run: bool
    note: str  # what was changed for small data, and why ("" when nothing was)
    run_images: int
    validation_images: int

    def steps(self, epochs: int) -> int:
        """Training steps of the run and its validation run for ``epochs``, as the trainer
        counts them: whole batches only (the sized routes make one critic update a step)."""
        batches = self.run_images // self.batch_size + self.validation_images // self.batch_size
        return epochs * batches


def fit_to_data(spec: dict[str, Any]) -> DataFit:
    """The route's batch, lowered to what the run's and its validation run's training images
    fill; without a validation run where the data hold too few seen classes or images for
    one (GZSL's constant is then chosen on the run's own pseudo-unseen classes)."""
    data = load_data(validated_spec(spec))
    wanted, images = spec["train"]["batch_size"], len(data.train)
    holdout = HoldoutSpec.model_validate(spec["validation_run"])
    try:
        validation = apply_holdout(data, holdout.classes, holdout.images, holdout.seed)
    except UserError as exc:
        batch = max(1, min(wanted, images))
        note = f"no validation run: {exc.message}" + (f"; batch {batch}" if batch < wanted else "")
        return DataFit(batch, False, note, images, 0)
    held = len(validation.train)
    batch = max(1, min(wanted, images, held))
    note = "" if batch == wanted else f"batch {batch}: the validation run trains on {held} images"
    return DataFit(batch, True, note, images, held)


@contextlib.contextmanager
def _probe_trainer(spec: dict[str, Any]) -> Iterator[Trainer]:
    """A trainer of ``spec`` on a few of its training images (two batches of every critic
    update), in a folder thrown away afterwards: what a step of the real run costs."""
    loaded = validated_spec(spec)
    data = load_data(loaded)
    few = 2 * loaded.train.batch_size * loaded.train.n_critic
    build = compose(loaded, dataclasses.replace(data, train=data.train[:few]))
    with tempfile.TemporaryDirectory() as folder:
        yield Trainer(build, Path(folder), steps=1, device="cpu")


def step_flops(spec: dict[str, Any]) -> int:
    """FLOPs of one training step of ``spec`` at its batch size: the trainer's own step (every
    critic update, and the generator update where the objective has one)."""
    from torch.utils.flop_counter import FlopCounterMode  # slow to import; only to count

    with _probe_trainer(spec) as trainer, FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return counter.get_total_flops() or 1


def step_seconds(spec: dict[str, Any], least_seconds: float = 1.0, most_steps: int = 50) -> float:
    """Process CPU seconds of one training step of ``spec`` on this machine, on the threads
    its spec pins: the trainer's own step, after two warm-up steps, timed in
    :data:`TIMING_WINDOWS` windows that share ``least_seconds`` and ``most_steps`` (each at
    least one step), :data:`WINDOW_GAP_SECONDS` of sleep apart; the median window's mean."""
    with _probe_trainer(spec) as trainer:
        for _ in range(2):
            trainer.train_step()
        windows = []
        for window in range(TIMING_WINDOWS):
            if window:
                time.sleep(WINDOW_GAP_SECONDS)
            windows.append(
                _mean_step(
                    trainer, least_seconds / TIMING_WINDOWS, max(1, most_steps // TIMING_WINDOWS)
                )
            )
        return statistics.median(windows)


def _mean_step(trainer: Trainer, least_seconds: float, most_steps: int) -> float:
    """Process CPU seconds per step of ``trainer`` over at least one step, then until
    ``least_seconds`` or ``most_steps`` have passed."""
    start, steps = time.process_time(), 0
    while steps < 1 or (time.process_time() - start < least_seconds and steps < most_steps):
        trainer.train_step()
        steps += 1
    return (time.process_time() - start) / steps


def epochs_for(seconds_per_step: float, fit: DataFit, cpu_seconds: float) -> int:
    """Passes over the training images that ``cpu_seconds`` of process CPU buy for the run
    and its validation run together (one ``zsk train``), at least 1."""
    steps = max(cpu_seconds - PROCESS_SECONDS, 0.0) / seconds_per_step
    return max(1, round(steps / max(fit.steps(1), 1)))


def expected_cpu_seconds(seconds_per_step: float, fit: DataFit, epochs: int) -> float:
    """The process CPU seconds :func:`epochs_for`'s model expects ``epochs`` to cost."""
    return PROCESS_SECONDS + fit.steps(epochs) * seconds_per_step
