"""Progress of long work on a terminal; silent in a pipe, so logs and scripts stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``progress(stage, done, total)`` redraws one status line, at most ten times a second."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        self.stream.write(f"\r\x1b[K{stage}: {done}/{total}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def silent(_stage: str, _done: int, _total: int) -> None:
    """The progress callback for library use and tests."""
