"""Retention (docs/contracts/push.md): events older than ``push.retention_days`` whose
deliveries are all settled go, with their deliveries and attempt logs; settled WebSub
distributions go by their own age. Documents and items are the catalog and are never pruned.

Deleted in small batches, one short transaction each, so deliverers settling at the same time
never wait long on the store (SQLite has one writer at a time).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Select, and_, delete, exists, select

from syndicator.push import attempts
from syndicator.push.status import SETTLED, UNSETTLED
from syndicator.store.schema import deliveries, events

log = logging.getLogger("syndicator.push")
BATCH = 2000
"""Rows of a table deleted per transaction: some 30 ms of the write lock, which a deliverer's
window of claimed posts outlasts. A batch's fixed cost (finding prunable events) is paid per
batch: at 500, the soak's pruner fell behind a deliverer making 3,900/s and the store grew
past 340,000 deliveries against a window of 80,000; 2,000 prunes 100,000 in half the CPU."""


@dataclass(frozen=True, slots=True)
class Pruned:
    events: int = 0
    deliveries: int = 0
    attempts: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            self.events + other.events,
            self.deliveries + other.deliveries,
            self.attempts + other.attempts,
        )

    def __str__(self) -> str:
        return (
            f"{self.events} events, {self.deliveries} deliveries, {self.attempts} attempts deleted"
        )


def cutoff(now: datetime, retention_days: float) -> datetime:
    return now - timedelta(days=retention_days)


def prune(
    engine: Engine,
    now: datetime,
    retention_days: float,
    *,
    batch: int = BATCH,
    between: Callable[[], None] = lambda: None,
) -> Pruned:
    """Delete what retention lets go, batch after batch until none is left; ``between`` runs
    after each batch (a pause, a check that the worker is stopping)."""
    before = cutoff(now, retention_days)
    total = Pruned()
    for step in (_delivery_batch, _event_batch, _websub_batch):
        while True:
            with engine.begin() as connection:
                done, taken = step(connection, before, batch)
            total += done
            between()
            if taken < batch:
                break
    return total


def _prunable_events(before: datetime) -> Select[tuple[int]]:
    """Events older than the cutoff with no delivery still to be made."""
    unsettled = exists().where(
        deliveries.c.event_id == events.c.id, deliveries.c.status.in_(UNSETTLED)
    )
    return select(events.c.id).where(events.c.occurred_at < before, ~unsettled)


def _delivery_batch(connection: Connection, before: datetime, batch: int) -> tuple[Pruned, int]:
    """Deliveries of prunable events with their attempt logs, ``batch`` deliveries at a time:
    one event fans out to every subscriber, so counting events would put tens of thousands of
    rows in one transaction and hold the store's write lock against the deliverers."""
    ids = list(
        connection.execute(
            select(deliveries.c.id)
            .where(deliveries.c.event_id.in_(_prunable_events(before)))
            .limit(batch)
        ).scalars()
    )
    return _delete_deliveries(connection, ids)


def _event_batch(connection: Connection, before: datetime, batch: int) -> tuple[Pruned, int]:
    """Prunable events whose deliveries are gone (a delivery made for one since the step
    before keeps it until the next prune)."""
    ids = list(
        connection.execute(
            _prunable_events(before)
            .where(~exists().where(deliveries.c.event_id == events.c.id))
            .order_by(events.c.occurred_at)
            .limit(batch)
        ).scalars()
    )
    if not ids:
        return Pruned(), 0
    gone = connection.execute(delete(events).where(events.c.id.in_(ids))).rowcount
    return Pruned(gone), len(ids)


def _websub_batch(connection: Connection, before: datetime, batch: int) -> tuple[Pruned, int]:
    """Settled WebSub distributions (they have no event) created before the cutoff."""
    ids = list(
        connection.execute(
            select(deliveries.c.id)
            .where(
                and_(
                    deliveries.c.created_at < before,
                    deliveries.c.event_id.is_(None),
                    deliveries.c.status.in_(SETTLED),
                )
            )
            .order_by(deliveries.c.created_at)
            .limit(batch)
        ).scalars()
    )
    return _delete_deliveries(connection, ids)


def _delete_deliveries(connection: Connection, ids: list[int]) -> tuple[Pruned, int]:
    """The deliveries ``ids`` with their attempt logs (the rows of one batch)."""
    if not ids:
        return Pruned(), 0
    logged = attempts.forget(connection, deliveries.c.id.in_(ids))
    removed = connection.execute(delete(deliveries).where(deliveries.c.id.in_(ids))).rowcount
    return Pruned(0, removed, logged), len(ids)


class Pruner:
    """Prunes every ``interval`` seconds in a thread of its own, the first time at start; a
    short pause between batches leaves the store to the deliverers."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        retention_days: float,
        *,
        interval: float = 3600.0,
        pause: float = 0.01,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._retention_days = retention_days
        self._interval = interval
        self._pause = pause
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pruner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pruned = prune(
                    self._engine,
                    self._clock(),
                    self._retention_days,
                    between=self._between,
                )
            except _Stopped:
                return
            except Exception:
                log.exception("pruning failed; trying again at the next interval")
            else:
                if pruned.events or pruned.deliveries:
                    log.info("retention: %s", pruned)
            self._stop.wait(self._interval)

    def _between(self) -> None:
        if self._stop.wait(self._pause):
            raise _Stopped


class _Stopped(Exception):
    """The worker is stopping: the prune ends between two batches."""
