"""Ctrl-C and SIGTERM end training cleanly: the step in flight finishes, a checkpoint is written.

The first signal only sets a flag the loop reads between steps; a second Ctrl-C restores the
default behaviour, so an impatient user can still stop at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: exit status by signal, as shells report a process ended by it (128 + number)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequest:
    """Set by the signal handler; read by the training loop after each step."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signal, 1) if self.signal is not None else 0

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        self.signal = signal.Signals(signum)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after writing ``checkpoint``; exit with ``exit_code``.

    ``kept`` says what was saved: a checkpoint, or the features a staged run had extracted
    so far (stopped between a stage's extraction batches).
    """

    def __init__(
        self,
        signal_name: str,
        checkpoint: object,
        exit_code: int,
        kept: str = "checkpoint written to",
    ):
        self.exit_code = exit_code
        self.checkpoint = checkpoint
        super().__init__(f"stopped by {signal_name}; {kept} {checkpoint}")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to a :class:`StopRequest` while the block runs."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request.handle) for sig in EXIT_CODES}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
