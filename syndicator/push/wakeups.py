"""Telling deliverers in other processes that deliveries were queued (PostgreSQL).

A deliverer looks for due deliveries every ``deliverer.IDLE_POLL_SECONDS``; the one supervised
by ``run --role all`` is also woken by a byte on a pipe. Deliverers started on their own, on
other machines or as more processes on one store, had only the poll: an announcement waited up
to half a second before anyone took it, a quarter on average (6 % of the time 20,000
deliveries took with two deliverers, bench/scale.py). On PostgreSQL, whoever queues deliveries
sends a ``NOTIFY`` in the same transaction, which the server delivers at commit (never for a
transaction rolled back), and each deliverer keeps one connection listening. The poll stays:
it finds retries come due, and whatever was queued while a listener was reconnecting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine

log = logging.getLogger("syndicator.push")
CHANNEL = "syndicator_deliveries_queued"
LISTEN_SECONDS = 0.25
"""How long a wait for a notification lasts before the listener checks whether to stop."""
RECONNECT_SECONDS = 5.0
STOP_SECONDS = 5.0
"""The longest ``stop`` waits for the thread: one stuck connecting to an unreachable server
is left behind (a daemon), its deliverer stops all the same."""


def queued(connection: Connection) -> None:
    """Deliveries due now were written in this transaction: wake the listening deliverers once
    it commits (PostgreSQL folds repeats within a transaction into one)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


class Listener:
    """A thread holding one connection that listens on ``CHANNEL`` and calls ``wake`` on each
    notification; a lost connection is logged and opened again (the poll covers the gap)."""

    def __init__(self, engine: Engine, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        self._thread = threading.Thread(target=self._run, name="wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:
                log.warning("listening for queued deliveries failed (%s); polling meanwhile", exc)
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"LISTEN {CHANNEL}")
            # Queued before LISTEN took effect: look once, as after a reconnection.
            self.wake()
            driver = connection.connection.driver_connection
            assert driver is not None  # a live connection has its driver's
            while not self._stop.is_set():
                for _notification in driver.notifies(timeout=LISTEN_SECONDS, stop_after=1):
                    self.wake()
