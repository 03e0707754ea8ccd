"""The training loop: the report's alternating D and G updates, from the spec, resumable.

Each step makes ``n_critic`` discriminator updates (D and ψ together), each on a fresh batch,
then one generator update on the last batch, reusing the fakes the last D update saw (G runs
forward once). Every loss term comes from the spec's objective; the loop names none.

The loop is :class:`Trainer`; each of its parts has one job: :class:`~zsk.core.train.feed.
TrainingFeed` draws the batches, :class:`~zsk.core.train.optimization.Optimization` holds the
optimisers and makes a phase's update, :class:`~zsk.core.train.checkpointing.Checkpointing`
saves and resumes, :class:`~zsk.core.train.training_log.TrainingLog` keeps the logged numbers.

A step never waits for the device except for its finite checks (one per phase, after the
backward); logged numbers are summed on the device and read every ``log_every`` steps.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.build.composer import Build
from zsk.core.build.model import GAN
from zsk.core.build.step import FakeImages, Regularizers
from zsk.core.components.interfaces import Phase
from zsk.core.spec.sections import TrainSpec
from zsk.core.storage.runlock import run_lock
from zsk.core.train.allocator import keep_freed_memory
from zsk.core.train.checkpoint import find_latest
from zsk.core.train.checkpointing import Checkpointing
from zsk.core.train.device import resolve_device, resolve_precision
from zsk.core.train.distributed import (
    Distributed,
    any_replica,
    average_batch_norm_statistics,
    broadcast_state,
    initialize,
    replica_digests,
)
from zsk.core.train.ema import ModelEMA
from zsk.core.train.feed import TrainingFeed
from zsk.core.train.optimization import Optimization
from zsk.core.train.reporter import Reporter
from zsk.core.train.samples import SampleGrid
from zsk.core.train.signals import StopRequest, TrainingInterrupted
from zsk.core.train.state import TrainState, seed_everything
from zsk.core.train.training_log import TrainingLog
from zsk.registry import UserError

#: consecutive steps with a non-finite loss after which training stops
MAX_NONFINITE_IN_A_ROW = 5


@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    skipped_steps: int


def place_networks(
    build: Build,
    settings: TrainSpec,
    device: torch.device,
    layout: Distributed,
    channels_last: bool,
) -> tuple[GAN, ModelEMA | None]:
    """The build's networks and loss terms on ``device`` in training mode (every replica with
    rank 0's weights, compiled when the spec asks), and the generator's EMA when kept."""
    gan = build.gan.to(device).train()
    if channels_last:
        gan.to(memory_format=torch.channels_last)
    broadcast_state(gan, layout)
    for term in [*build.objective.discriminator, *build.objective.generator]:
        term.loss.to(device)
    ema = ModelEMA(gan.generator, settings.ema.decay) if settings.ema else None
    if settings.compile:
        for module in (
            gan.generator,
            gan.discriminator.trunk,
            gan.semantic_encoder,
            *gan.discriminator.heads.values(),
        ):
            module.compile()
    return gan, ema


class Trainer:
    """Trains a built run (``zsk.core.build.composer.Build``) in ``run_dir``.

    ``settings`` is the spec's train section; everything a checkpoint keeps is in ``state``
    (:class:`~zsk.core.train.state.TrainState`).
    """

    def __init__(
        self,
        build: Build,
        run_dir: Path,
        *,
        steps: int | None = None,
        epochs: int | None = None,
        device: str = "auto",
        resume: bool = False,
        layout: Distributed | None = None,
    ):
        self.build, self.settings, self.run_dir = build, build.spec.train, Path(run_dir)
        self.layout = layout or Distributed()
        self.device = resolve_device(device, self.layout.local_rank)
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)
        if self.device.type == "cpu":
            keep_freed_memory()  # reuse freed pages instead of faulting in fresh ones
        initialize(self.layout, self.device)
        self.precision = resolve_precision(self.settings.precision, self.device)
        # convolutions run faster in channels_last on CUDA and the CPU alike (BENCHMARKS.md §2)
        channels_last = self.settings.channels_last and not build.data.is_features
        self.resume = resume
        seed_everything(self.settings.seed + 7919 * self.layout.rank)
        self.gan, self.ema = place_networks(
            build, self.settings, self.device, self.layout, channels_last
        )
        self.feed = TrainingFeed(build, self.settings, self.device, self.layout, channels_last)
        # sample grids are pictures: a run over feature vectors has none to draw
        self.samples = None
        if not build.data.is_features:
            self.samples = SampleGrid(
                build.data,
                self.gan.generator,
                self.feed.stream.images,
                build.dims.noise_dim,
                self.settings.seed,
            )
        self.optimization = Optimization(
            self.gan, self.settings, self.device, self.layout, self.precision
        )
        self.steps_per_epoch = len(self.feed.stream) / self.settings.n_critic
        self.total_steps = self._total_steps(steps, epochs)
        self.state = TrainState(
            self.gan,
            self.ema,
            build.objective.named_losses(),
            self.optimization.updaters,
            self.feed.stream,
            seed=self.settings.seed,
            rank=self.layout.rank,
        )
        self.checkpoints = Checkpointing(build, self.run_dir, self.state, self.layout)
        self.log = TrainingLog(self.images_per_step)

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def noise_std(self) -> float:
        """The instance-noise level at this step: std · decay ** step (a schedule, not state)."""
        noise = self.settings.instance_noise
        return noise.std * noise.decay**self.step

    @property
    def images_per_step(self) -> int:
        return self.settings.batch_size * self.settings.n_critic * self.layout.world_size

    def _total_steps(self, steps: int | None, epochs: int | None) -> int:
        if steps is not None:
            return steps
        epochs = epochs if epochs is not None else self.settings.epochs
        if epochs is not None:
            return max(1, math.ceil(epochs * self.steps_per_epoch))
        return int(self.settings.steps)

    # one step -------------------------------------------------------------------------------
    def _regularizers(self) -> Regularizers:
        flips = self.settings.label_flip
        return Regularizers(
            self.settings.label_smoothing, flips.real_fake, flips.cosine, self.noise_std
        )

    def _update(self, phase: Phase, batch, fakes: FakeImages):
        return self.optimization.update(
            phase, self.gan, self.build.objective, batch, fakes, self._regularizers(), self.log.add
        )

    def train_step(self) -> None:
        """``n_critic`` discriminator updates, each on a new batch, then one generator update
        on the last batch (with D and ψ frozen); a non-finite loss skips its update."""
        self.optimization.schedule(self.step, self.steps_per_epoch)
        bad: list[tuple[str, list[str]]] = []
        fresh = self.settings.generator_noise == "fresh"
        for critic in range(self.settings.n_critic):
            batch = self.feed.draw()
            last = critic == self.settings.n_critic - 1
            fakes = FakeImages(self.gan, batch, keep_graph=last and not fresh)
            outcome = self._update("discriminator", batch, fakes)
            if not outcome.applied:
                bad.append(("discriminator", outcome.bad_terms))
        if self.build.objective.generator:  # empty: a discriminative baseline, G stays put
            if fresh:
                batch = batch.with_fresh_noise()
                fakes = FakeImages(self.gan, batch, keep_graph=True)
            frozen = (self.gan.discriminator, self.gan.semantic_encoder)
            for module in frozen:  # not stepped in the generator phase
                module.requires_grad_(False)
            try:
                outcome = self._update("generator", batch, fakes)
            finally:
                for module in frozen:
                    module.requires_grad_(True)
            if not outcome.applied:
                bad.append(("generator", outcome.bad_terms))
            elif self.ema is not None:
                self.ema.update(self.gan.generator)
        self.state.step += 1
        self._count_nonfinite(bad)

    def _count_nonfinite(self, bad: list[tuple[str, list[str]]]) -> None:
        self.state.count_nonfinite(bad)
        if self.state.bad_in_a_row >= MAX_NONFINITE_IN_A_ROW:
            latest = find_latest(self.run_dir)
            raise UserError(
                f"training stopped: {MAX_NONFINITE_IN_A_ROW} steps in a row had a non-finite "
                f"loss; {self.state.describe_nonfinite()}",
                hint=f"last good checkpoint: {latest or 'none yet'}; lower the learning rates, "
                "set train.grad_clip, or check that term's inputs",
            )

    # the loop -------------------------------------------------------------------------------
    def fit(self, stop: StopRequest | None = None) -> TrainResult:
        """Train to ``total_steps`` holding the run directory's lock (rank 0 holds it for all)."""
        held = run_lock(self.run_dir, "zsk train") if self.layout.is_main else nullcontext()
        with held:
            return self._fit(stop)

    def _start(self) -> None:
        """Resume (with ``--resume``), or prepare the loss terms for a first step."""
        if self.checkpoints.resume(self.resume):
            self.feed.restart()
        if self.step == 0:
            for _, loss in self.build.objective.named_losses():
                loss.prepare(self.feed.stream.images, self.feed.stream.labels)
        if self.step >= self.total_steps:
            raise UserError(
                f"{self.run_dir} is already trained to step {self.step}",
                hint=f"train further with --steps N (N > {self.step})",
            )

    def _fit(self, stop: StopRequest | None) -> TrainResult:
        self._start()
        last_checkpoint = None
        with Reporter(
            self.run_dir, self.total_steps, self.step, enabled=self.layout.is_main
        ) as reporter:
            reporter.say(
                f"training {self.run_dir} on {self.device} ({self.precision.name}), "
                f"steps {self.step}→{self.total_steps}"
            )
            self.log.start_window(self.step)
            while self.step < self.total_steps:
                self.train_step()
                reporter.advance(self.step, self.feed.stream.epoch)
                final = self.step == self.total_steps
                if self.step % self.settings.log_every == 0 or final:
                    self._write_record(reporter)
                if self.step % self.settings.sample_every == 0 or final:
                    self.write_samples()
                periodic = self.step % self.settings.checkpoint_every == 0
                if (periodic and not self.state.bad_in_a_row) or final:
                    last_checkpoint = self.save()
                if stop is not None and any_replica(stop.requested, self.layout):
                    path = self.save()
                    name = stop.signal.name if stop.signal is not None else "another process"
                    raise TrainingInterrupted(name, path, stop.exit_code or 143)
            self._check_replicas(reporter)
        return TrainResult(self.step, last_checkpoint, self.state.skipped)

    def _write_record(self, reporter: Reporter) -> None:
        extra = {
            "lr_g": self.optimization.lr_g,
            "lr_d": self.optimization.lr_d,
            "instance_noise": self.noise_std,
            "skipped_steps": self.state.skipped,
        }
        self.log.write(reporter, self.step, self.feed.stream.epoch, extra)

    def write_samples(self) -> None:
        average_batch_norm_statistics(self.gan, self.layout)
        if self.layout.is_main and self.samples is not None:
            generator = self.ema.shadow if self.ema is not None else self.gan.generator
            self.samples.write(generator, self.device, self.run_dir, self.step)

    def save(self) -> Path | None:
        return self.checkpoints.save(self.total_steps)

    def _check_replicas(self, reporter: Reporter) -> None:
        if not self.layout.enabled:
            return
        digests = replica_digests(self.gan, self.layout)
        if len(set(digests)) != 1:
            raise RuntimeError(f"replicas diverged: weight digests {digests}")
        reporter.say(
            f"replicas agree: {self.layout.world_size} processes, weights sha256 {digests[0][:16]}"
        )
