"""The training loop: the report's alternating D and G updates, from the spec, resumable.

Each step makes ``n_critic`` discriminator updates (D and ψ together), each on a fresh batch,
then one generator update on the last batch, reusing the fakes the last D update saw (G runs
forward once). Every loss term comes from the spec's objective; the loop names none.

A step never waits for the device except for its finite checks (one per phase, after the
backward); logged numbers are summed on the device and read every ``log_every`` steps.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from zsk.core.build.step import FakeImages, PhaseContext, Regularisers, draw_batch, evaluate_terms
from zsk.core.data.augment import random_hflip
from zsk.core.data.loader import BatchStream, load_split_images
from zsk.core.storage.runlock import run_lock
from zsk.core.train.allocator import keep_freed_memory
from zsk.core.train.checkpoint import (
    check_matches,
    find_latest,
    model_fingerprint,
    read_checkpoint,
    resume_point,
    write_checkpoint,
)
from zsk.core.train.device import resolve_device, resolve_precision
from zsk.core.train.distributed import (
    Distributed,
    any_replica,
    average_batch_norm_statistics,
    broadcast_state,
    initialise,
    replica_digests,
)
from zsk.core.train.ema import ModelEMA
from zsk.core.train.optim import (
    discriminator_parameters,
    lr_factor,
    make_optimizer,
    set_learning_rate,
)
from zsk.core.train.progress import Reporter
from zsk.core.train.samples import SampleGrid
from zsk.core.train.signals import StopRequest, TrainingInterrupted
from zsk.core.train.state import TrainState, seed_everything
from zsk.core.train.update import PhaseUpdater
from zsk.registry import UserError

#: consecutive steps with a non-finite loss after which training stops
MAX_NONFINITE_IN_A_ROW = 5


@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    skipped_steps: int


class Trainer:
    """Trains a built run (``zsk.core.build.composer.Build``) in ``run_dir``.

    ``settings`` is the spec's train section; everything a checkpoint keeps is in ``state``
    (:class:`~zsk.core.train.state.TrainState`).
    """

    def __init__(
        self,
        build,
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
        if self.device.type == "cpu":
            keep_freed_memory()  # reuse freed pages instead of faulting in fresh ones
        initialise(self.layout, self.device)
        self.precision = resolve_precision(self.settings.precision, self.device)
        # channels_last is slower on the CPU (BENCHMARKS.md §2), so it applies on CUDA only
        self.channels_last = self.device.type == "cuda" and self.settings.channels_last
        self.resume = resume
        seed_everything(self.settings.seed + 7919 * self.layout.rank)
        self._prepare_networks()
        self._prepare_data()
        self._prepare_optimisers()
        self.steps_per_epoch = len(self.stream) / self.settings.n_critic
        self.total_steps = self._total_steps(steps, epochs)
        self.state = TrainState(
            self.gan,
            self.ema,
            self.build.objective.named_losses(),
            {"generator": self.update_g, "discriminator": self.update_d},
            self.stream,
            seed=self.settings.seed,
            rank=self.layout.rank,
        )
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    # setup ----------------------------------------------------------------------------------
    def _prepare_networks(self) -> None:
        gan = self.build.gan.to(self.device).train()
        if self.channels_last:
            gan.to(memory_format=torch.channels_last)
        broadcast_state(gan, self.layout)
        self.gan = gan
        objective = self.build.objective
        for term in [*objective.discriminator, *objective.generator]:
            term.loss.to(self.device)
        self.ema = ModelEMA(gan.generator, self.settings.ema.decay) if self.settings.ema else None
        if self.settings.compile:
            for module in (
                gan.generator,
                gan.discriminator.trunk,
                gan.semantic_encoder,
                *gan.discriminator.heads.values(),
            ):
                module.compile()

    def _prepare_data(self) -> None:
        data, size = self.build.data, self.build.dims.image_size
        images, labels = load_split_images(data, "train", size)
        lookup = torch.full((len(data.classes),), -1, dtype=torch.int64)
        lookup[torch.tensor(data.seen)] = torch.arange(len(data.seen))
        seen_labels = lookup[labels]
        if (seen_labels < 0).any():
            raise UserError(
                "the training split holds images of unseen classes",
                hint="check the data set's split files",
            )
        self.stream = BatchStream(
            images,
            seen_labels,
            self.settings.batch_size,
            seed=self.settings.seed,
            device=self.device,
            rank=self.layout.rank,
            world_size=self.layout.world_size,
            sampling=self.settings.batch_sampling,
        )
        self.class_attributes = data.attributes[data.seen].float().to(self.device)
        # sample grids are pictures: a run over feature vectors has none to draw
        self.samples = None
        if not data.is_features:
            self.samples = SampleGrid(
                data, self.gan.generator, images, self.build.dims.noise_dim, self.settings.seed
            )
        self._batches = iter(self.stream)

    def _prepare_optimisers(self) -> None:
        g_params = [p for p in self.gan.generator.parameters() if p.requires_grad]
        d_params = [p for p in discriminator_parameters(self.gan) if p.requires_grad]
        optimizers = self.settings.optimizers
        self.opt_g = make_optimizer(g_params, optimizers.generator, self.device)
        self.opt_d = make_optimizer(d_params, optimizers.discriminator, self.device)
        clip = self.settings.grad_clip
        self.update_g = PhaseUpdater(
            self.opt_g, g_params, self.layout, self.precision.scaler(), clip
        )
        self.update_d = PhaseUpdater(
            self.opt_d, d_params, self.layout, self.precision.scaler(), clip
        )

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def skipped(self) -> int:
        return self.state.skipped

    @property
    def noise_std(self) -> float:
        """The instance-noise level at this step: std · decay ** step (a schedule, not state)."""
        noise = self.settings.instance_noise
        return noise.std * noise.decay**self.step

    def _total_steps(self, steps: int | None, epochs: int | None) -> int:
        if steps is not None:
            return steps
        epochs = epochs if epochs is not None else self.settings.epochs
        if epochs is not None:
            return max(1, math.ceil(epochs * self.steps_per_epoch))
        return int(self.settings.steps)

    # one step -------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.stream)
            return next(self._batches)

    def _draw(self):
        images, labels = self._next_batch()
        if self.settings.hflip and not self.build.dims.feature_dim:
            images = random_hflip(images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return draw_batch(
            images,
            labels,
            self.class_attributes,
            negative_fraction=self.settings.negative_fraction,
            noise_dim=self.build.dims.noise_dim,
        )

    def _regularisers(self) -> Regularisers:
        flips = self.settings.label_flip
        return Regularisers(
            self.settings.label_smoothing, flips.real_fake, flips.cosine, self.noise_std
        )

    def _phase(self, phase: str, batch, fakes: FakeImages, updater: PhaseUpdater):
        objective = getattr(self.build.objective, phase)
        ctx = PhaseContext(phase, self.gan, batch, fakes, self._regularisers())
        with self.precision.autocast():
            result = evaluate_terms(ctx, objective)
        outcome = updater.update(result)
        prefix = "d" if phase == "discriminator" else "g"
        if outcome.applied:
            for name, value in result.terms.items():
                self._accumulate(f"{prefix}/{name}", value.detach())
            self._accumulate(f"grad_norm/{prefix}", outcome.grad_norm.detach().float())
        return outcome

    def _set_frozen(self, frozen: bool) -> None:
        """Freeze D and ψ for the generator phase (they are not stepped there)."""
        self.gan.discriminator.requires_grad_(not frozen)
        self.gan.semantic_encoder.requires_grad_(not frozen)

    def train_step(self) -> None:
        factor = lr_factor(self.settings.schedule, self.step, self.steps_per_epoch)
        self.lr_g = set_learning_rate(self.opt_g, self.settings.optimizers.generator.lr, factor)
        self.lr_d = set_learning_rate(self.opt_d, self.settings.optimizers.discriminator.lr, factor)
        bad: list[tuple[str, list[str]]] = []
        fresh = self.settings.generator_noise == "fresh"
        for critic in range(self.settings.n_critic):
            batch = self._draw()
            last = critic == self.settings.n_critic - 1
            fakes = FakeImages(self.gan, batch, keep_graph=last and not fresh)
            outcome = self._phase("discriminator", batch, fakes, self.update_d)
            if not outcome.applied:
                bad.append(("discriminator", outcome.bad_terms))
        if self.build.objective.generator:  # empty: a discriminative baseline, G stays put
            if fresh:
                batch = batch.with_fresh_noise()
                fakes = FakeImages(self.gan, batch, keep_graph=True)
            self._set_frozen(True)
            try:
                outcome = self._phase("generator", batch, fakes, self.update_g)
            finally:
                self._set_frozen(False)
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

    def _accumulate(self, key: str, value: torch.Tensor) -> None:
        self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
        self._counts[key] = self._counts.get(key, 0) + 1

    # the loop -------------------------------------------------------------------------------
    def run(self, stop: StopRequest | None = None) -> TrainResult:
        """Train to ``total_steps`` holding the run directory's lock (rank 0 holds it for all)."""
        held = run_lock(self.run_dir, "zsk train") if self.layout.is_main else nullcontext()
        with held:
            return self._run(stop)

    def _run(self, stop: StopRequest | None) -> TrainResult:
        self._resume()
        if self.step == 0:
            for _, loss in self.build.objective.named_losses():
                loss.prepare(self.stream.images, self.stream.labels)
        if self.step >= self.total_steps:
            raise UserError(
                f"{self.run_dir} is already trained to step {self.step}",
                hint=f"train further with --steps N (N > {self.step})",
            )
        main = self.layout.is_main
        last_checkpoint = None
        with Reporter(self.run_dir, self.total_steps, self.step, enabled=main) as reporter:
            self.reporter = reporter
            reporter.say(
                f"training {self.run_dir} on {self.device} ({self.precision.name}), "
                f"steps {self.step}→{self.total_steps}"
            )
            window_start, window_step = time.perf_counter(), self.step
            while self.step < self.total_steps:
                self.train_step()
                reporter.advance(self.step, self.stream.epoch)
                if self.step % self.settings.log_every == 0 or self.step == self.total_steps:
                    seconds = time.perf_counter() - window_start
                    images = (self.step - window_step) * self.images_per_step
                    self._log(reporter, images / max(seconds, 1e-9))
                    window_start, window_step = time.perf_counter(), self.step
                if self.step % self.settings.sample_every == 0 or self.step == self.total_steps:
                    self.write_samples()
                periodic = (
                    self.step % self.settings.checkpoint_every == 0 and not self.state.bad_in_a_row
                )
                if periodic or self.step == self.total_steps:
                    last_checkpoint = self.save()
                if stop is not None and any_replica(stop.requested, self.layout):
                    path = self.save()
                    name = stop.signal.name if stop.signal is not None else "another process"
                    raise TrainingInterrupted(name, path, stop.exit_code or 143)
            self._check_replicas(reporter)
        return TrainResult(self.step, last_checkpoint, self.skipped)

    def _resume(self) -> None:
        """Continue from the newest checkpoint with ``--resume``; never overwrite one without."""
        path = resume_point(self.run_dir, self.resume)
        if path is None:
            return
        tensors, meta = read_checkpoint(path)
        check_matches(meta, self._fingerprint(), path)
        self.state.load_state_dict(tensors, meta, str(path))
        self._batches = iter(self.stream)

    def _fingerprint(self) -> str:
        return model_fingerprint(self.build.gan, self.build.data.fingerprint())

    @property
    def images_per_step(self) -> int:
        return self.settings.batch_size * self.settings.n_critic * self.layout.world_size

    def _log(self, reporter: Reporter, images_per_s: float) -> None:
        record: dict[str, float | int] = {"step": self.step, "epoch": self.stream.epoch}
        record.update({k: float(v) / self._counts[k] for k, v in self._sums.items()})
        record.update(
            lr_g=self.lr_g,
            lr_d=self.lr_d,
            instance_noise=self.noise_std,
            skipped_steps=self.skipped,
            images_per_s=round(images_per_s, 2),
        )
        self._sums, self._counts = {}, {}
        reporter.record(record)

    def write_samples(self) -> None:
        average_batch_norm_statistics(self.gan, self.layout)
        if self.layout.is_main and self.samples is not None:
            generator = self.ema.shadow if self.ema is not None else self.gan.generator
            self.samples.write(generator, self.device, self.run_dir, self.step)

    def save(self) -> Path | None:
        average_batch_norm_statistics(self.gan, self.layout)
        if not self.layout.is_main:
            return None
        tensors, record = self.state.state_dict()
        meta = {
            "spec_name": self.build.spec.name,
            "model_fingerprint": self._fingerprint(),
            "total_steps": self.total_steps,
            "world_size": self.layout.world_size,
            **record,
        }
        return write_checkpoint(
            self.run_dir, self.step, tensors, meta, self.settings.keep_checkpoints
        )

    def _check_replicas(self, reporter: Reporter) -> None:
        if not self.layout.enabled:
            return
        digests = replica_digests(self.gan, self.layout)
        if len(set(digests)) != 1:
            raise RuntimeError(f"replicas diverged: weight digests {digests}")
        reporter.say(
            f"replicas agree: {self.layout.world_size} processes, weights sha256 {digests[0][:16]}"
        )
