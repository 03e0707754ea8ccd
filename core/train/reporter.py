"""What a user sees while training: a rich progress bar on a terminal, plain lines otherwise,
``RUN_DIR/metrics.jsonl``, and TensorBoard event files when tensorboard is installed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from zsk.core.storage.files import append_line, write_file

METRICS_FILE = "metrics.jsonl"


def _tensorboard_writer(run_dir: Path, start_step: int) -> Any:
    """A SummaryWriter in RUN_DIR/tensorboard (events after ``start_step`` dropped, as a resumed
    run writes those steps again), or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=start_step or None)


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop the records after ``last_step`` and any line a kill cut short: a run resumed from
    the checkpoint of ``last_step`` logs the later steps again, and curves must not double back."""
    if not path.is_file():
        return
    kept = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines:
        try:
            step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(step, int) and step <= last_step:
            kept.append(line + "\n")
    if len(kept) != len(lines):
        write_file(path, "".join(kept))


def short_losses(record: dict[str, Any], limit: int = 6) -> str:
    """``d/lsgan=0.241 g/lsgan=0.9`` for the loss terms of a metrics record."""
    terms = [(k, v) for k, v in record.items() if k.startswith(("d/", "g/"))][:limit]
    return " ".join(f"{k}={v:.4g}" for k, v in terms)


class Reporter:
    """Progress display and metric files of rank 0 (other ranks pass ``enabled=False``)."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, enabled: bool = True):
        self.run_dir = Path(run_dir)
        self.total_steps = total_steps
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.interactive = enabled and self.console.is_terminal
        self._progress: Progress | None = None
        self._task = None
        self._start_step = start_step
        self._writer = None

    def __enter__(self) -> Reporter:
        if not self.enabled:
            return self
        truncate_metrics(self.run_dir / METRICS_FILE, self._start_step)
        self._writer = _tensorboard_writer(self.run_dir, self._start_step)
        if self.interactive:
            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("epoch {task.fields[epoch]}  {task.fields[speed]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train",
                total=self.total_steps,
                completed=self._start_step,
                epoch=0,
                speed="",
                losses="",
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._writer is not None:
            self._writer.close()

    def advance(self, step: int, epoch: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, epoch=epoch)

    def record(self, record: dict[str, Any]) -> None:
        """Append one metrics record (``step``, ``epoch``, numbers) and show it."""
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        append_line(self.run_dir / METRICS_FILE, json.dumps(record))
        if self._writer is not None:
            for key, value in record.items():
                if key not in ("time", "step", "epoch") and isinstance(value, (int, float)):
                    self._writer.add_scalar(key, value, record["step"])
        speed = f"{record.get('images_per_s', 0):.1f} img/s"
        if self._progress is not None:
            self._progress.update(self._task, speed=speed, losses=short_losses(record))
        else:
            print(
                f"step {record['step']}/{self.total_steps}  epoch {record['epoch']}  {speed}  "
                f"{short_losses(record, limit=12)}",
                file=sys.stderr,
                flush=True,
            )

    def say(self, text: str) -> None:
        """A line for the user (above the bar on a terminal)."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)
