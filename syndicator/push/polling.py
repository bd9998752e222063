"""Background workers that take work from the store in rounds and hand it on.

The deliverer and the WebSub verifier both work this way: one loop thread runs a round at once
when this process wakes it (it has just written work), else every ``idle_seconds`` (to find
what other processes wrote, or what a dead one left), and hands what it took to its workers (a
thread pool, an event loop). A round that raises is logged and retried after the idle wait, so
one store hiccup never ends the loop.
"""

from __future__ import annotations

import logging
import threading


class PollingWorker:
    """Subclasses implement ``_round``: take work, hand it on, say if any was found (another
    round then follows at once)."""

    def __init__(self, name: str, *, idle_seconds: float, log: logging.Logger) -> None:
        self._name = name
        self._idle_seconds = idle_seconds
        self._log = log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Work was written by this process: look now, not at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Take no more work; the work handed on may still be under way."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _round(self) -> bool:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                found = self._round()
            except Exception:
                self._log.exception("%s: round failed; retrying shortly", self._name)
                found = False
            if not found:
                self._wake.wait(self._idle_seconds)
