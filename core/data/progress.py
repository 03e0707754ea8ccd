"""A rich progress bar that is a no-op when not wanted; one summary line of skipped files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

logger = logging.getLogger("zsk.data")


@contextmanager
def progress_bar(total: int, description: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """Yield a function that advances a bar of ``total`` steps (on stderr) by one."""
    if not enabled:
        yield lambda: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def report_skipped(skipped: Sequence[Path], total: int, what: str) -> None:
    """One warning line for every undecodable file of one pass, naming the first few."""
    if not skipped:
        return
    shown = ", ".join(str(p) for p in skipped[:3])
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    logger.warning(
        "skipped %d of %d %s that could not be decoded: %s%s",
        len(skipped),
        total,
        what,
        shown,
        more,
    )
