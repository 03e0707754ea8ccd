"""The numbers a run logs: loss terms and gradient norms summed on the device between records
(read once per record, so a step never waits for them), each record's means and throughput."""

from __future__ import annotations

import time

import torch

from zsk.core.train.reporter import Reporter


class TrainingLog:
    """Sums of logged values since the last record, and the time and step it was written at."""

    def __init__(self, images_per_step: int, step: int = 0):
        self.images_per_step = images_per_step
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self.start_window(step)

    def start_window(self, step: int) -> None:
        self._window = (time.perf_counter(), step)

    def add(self, key: str, value: torch.Tensor) -> None:
        self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
        self._counts[key] = self._counts.get(key, 0) + 1

    def write(
        self, reporter: Reporter, step: int, epoch: int, extra: dict[str, float | int]
    ) -> None:
        """One record: the means since the last one, ``extra``, and images per second."""
        started, first = self._window
        seconds = time.perf_counter() - started
        images_per_s = (step - first) * self.images_per_step / max(seconds, 1e-9)
        record: dict[str, float | int] = {"step": step, "epoch": epoch}
        record.update({k: float(v) / self._counts[k] for k, v in self._sums.items()})
        record.update(extra, images_per_s=round(images_per_s, 2))
        self._sums, self._counts = {}, {}
        reporter.record(record)
        self.start_window(step)
