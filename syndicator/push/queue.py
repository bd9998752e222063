"""The lease queue of deliveries: claim due rows under a lease, settle each attempt.

Deliverers claim due rows with ``FOR UPDATE SKIP LOCKED`` (ignored by SQLite, where claims
re-check each row under the write lock) and a lease: a deliverer that dies leaves rows whose
lease expires, and another takes them over with the same ``webhook-id``. Claims and settlements
come in batches of hundreds, a few statements each, so the store's cost is a round's, not a
delivery's.

Two kinds of endpoint share this path (claim, lease, retries, attempt log, replay): webhook
subscriptions, sent an event, and WebSub subscribers (``syndicator.push.websub``), sent the
current document of the feed they follow. A row names exactly one of the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    false,
    select,
    update,
)

from syndicator.push import attempts, counters, health
from syndicator.push.endpoints import Endpoint, Topic, endpoint_id, with_endpoints
from syndicator.push.retry import next_attempt_at
from syndicator.push.sender import Attempt, Outcome
from syndicator.push.status import DeliveryStatus
from syndicator.store.schema import deliveries, events
from syndicator.store.sql import OneOf, is_constant


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt, with everything needed to send it.

    ``subscription_id`` names the endpoint: a webhook subscription, whose ``body`` is the event,
    or, when ``topic`` is set, a WebSub subscription, whose ``secret`` is empty when it gave no
    ``hub.secret``.
    """

    id: int
    message_id: str
    attempts: int
    subscription_id: str
    url: str
    secret: str
    body: bytes
    topic: Topic | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """A claimed delivery's attempt and when it ended; ``attempt`` None when it was not sent
    (its endpoint had just failed, or the batch ran out of time), so it goes back as it was."""

    claimed: Claimed
    attempt: Attempt | None
    at: datetime


def body_of(event_type: str, occurred_at: datetime, data: str) -> bytes:
    """The Standard Webhooks body; the same bytes on every attempt."""
    return orjson.dumps(
        {"type": event_type, "timestamp": occurred_at.isoformat(), "data": orjson.Fragment(data)}
    )


def claim(
    connection: Connection,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    busy: Mapping[str, int],
    per_endpoint: int,
) -> list[Claimed]:
    """Take up to ``limit`` due deliveries, at most ``per_endpoint`` in flight per endpoint.

    ``busy`` counts what this worker already has in flight per endpoint; rows over the cap
    stay pending for another worker or a later round, so a dead endpoint never takes every slot.
    """
    counts = dict(busy)
    chosen: list[tuple[Any, Endpoint]] = []
    cancelled: list[int] = []
    known: dict[str, Endpoint | None] = {}
    window = limit * 2
    for due in (_LAPSED, _PENDING):
        # Read only as far as needed: a row read costs about as much as a row taken.
        rows = connection.execute(due, {"now": now, "window": window})
        for row, endpoint in with_endpoints(connection, rows, known):
            window -= 1
            if endpoint is None or endpoint.closed(now):
                cancelled.append(row.id)
                continue
            to = endpoint_id(row)
            if counts.get(to, 0) >= per_endpoint:
                continue
            counts[to] = counts.get(to, 0) + 1
            chosen.append((row, endpoint))
            if len(chosen) >= limit:
                break
        rows.close()
        if len(chosen) >= limit or window <= 0:
            break
    taken: list[Claimed] = []
    if chosen:
        won = set(
            connection.execute(
                _TAKE, {"ids": [row.id for row, _ in chosen], "now": now, "until": now + lease}
            ).scalars()
        )
        bodies = _bodies(connection, {row.event_id for row, _ in chosen if row.id in won})
        taken = [_claimed(row, endpoint, bodies) for row, endpoint in chosen if row.id in won]
    if cancelled:
        connection.execute(_CANCEL, {"ids": cancelled})
    return taken


def _due(condition: Any) -> Any:
    """The first ``:window`` deliveries meeting ``condition``, oldest due first, locked.

    ``claim`` asks for lapsed leases, then pending rows, in two statements rather than one with
    OR: each then reads ``ix_deliveries_due`` in its order and stops at the window, where the
    OR made SQLite sort every due row on each claim (200 ms a round with 200,000 pending).
    Ties go by the index (insertion order on both stores), so no sort on ``id`` is asked for.
    The endpoints are read apart (``endpoints.with_endpoints``): joined here, they made PostgreSQL
    hash-join and sort every due row before the limit (24 ms a claim with 14,000 pending,
    against 1.4 ms for the window alone).
    """
    return (
        select(
            deliveries.c.id,
            deliveries.c.message_id,
            deliveries.c.attempts,
            deliveries.c.subscription_id,
            deliveries.c.websub_subscription_id,
            deliveries.c.event_id,
        )
        .where(condition)
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("window"))
        .with_for_update(skip_locked=True)
    )


# The statements of every round, built once: building and keying them anew each round cost
# about as much as running them. The statuses of due rows are written in: PostgreSQL's due
# index holds the unsettled rows only (migration 0008).
_LEASE_LAPSED = and_(
    is_constant(deliveries.c.status, DeliveryStatus.DELIVERING),
    deliveries.c.lease_until < bindparam("now"),
)
_PENDING_DUE = and_(
    is_constant(deliveries.c.status, DeliveryStatus.PENDING),
    deliveries.c.next_attempt_at <= bindparam("now"),
)
_LAPSED = _due(_LEASE_LAPSED)
_PENDING = _due(_PENDING_DUE)
# Taken only if still due: on SQLite the rows were read before this transaction took the write
# lock, so another deliverer may have taken them since; the ids returned are the rows won. A
# CASE, not an OR of the two conditions: SQLite would answer that OR through the due index,
# visiting every due row (50 ms a round with 200,000 pending) instead of the ids asked for.
_TAKE = (
    update(deliveries)
    .where(
        OneOf(deliveries.c.id, "ids"),
        case(
            (deliveries.c.status == DeliveryStatus.PENDING, _PENDING_DUE),
            (deliveries.c.status == DeliveryStatus.DELIVERING, _LEASE_LAPSED),
            else_=false(),
        ),
    )
    .values(status=DeliveryStatus.DELIVERING, lease_until=bindparam("until"))
    .returning(deliveries.c.id)
)
_CANCEL = (
    update(deliveries).where(OneOf(deliveries.c.id, "ids")).values(status=DeliveryStatus.CANCELLED)
)
_IN_FLIGHT = and_(
    deliveries.c.id == bindparam("b_id"), deliveries.c.status == DeliveryStatus.DELIVERING
)
# Delivered rows are settled by their status code, a statement per code however many rows:
# an executemany bound and converted the same values once per row.
_DELIVERED = (
    update(deliveries)
    .where(
        OneOf(deliveries.c.id, "ids"),
        deliveries.c.status == DeliveryStatus.DELIVERING,
    )
    .values(
        status=DeliveryStatus.DELIVERED,
        attempts=deliveries.c.attempts + 1,
        last_status=bindparam("b_status"),
        last_error=None,
        lease_until=None,
        delivered_at=bindparam("b_at"),
    )
    .returning(deliveries.c.id)
)
_NOT_DELIVERED = (
    update(deliveries)
    .where(_IN_FLIGHT)
    .values(
        status=bindparam("b_next"),
        attempts=bindparam("b_attempts"),
        last_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        lease_until=None,
        next_attempt_at=bindparam("b_retry"),
    )
)
_UNSENT = (
    update(deliveries).where(_IN_FLIGHT).values(status=DeliveryStatus.PENDING, lease_until=None)
)


_EVENTS = select(events.c.id, events.c.type, events.c.occurred_at, events.c.data).where(
    OneOf(events.c.id, "ids")
)


def _bodies(connection: Connection, event_ids: set[int | None]) -> dict[int, bytes]:
    """The webhook body of each event, read and serialised once per claim however many
    endpoints it goes to (a claim holds a few events fanned out to hundreds)."""
    ids = [event_id for event_id in event_ids if event_id is not None]
    if not ids:
        return {}
    return {
        row.id: body_of(row.type, row.occurred_at, row.data)
        for row in connection.execute(_EVENTS, {"ids": ids})
    }


def _claimed(row: Any, endpoint: Endpoint, bodies: dict[int, bytes]) -> Claimed:
    """The delivery as it will be sent."""
    return Claimed(
        row.id,
        row.message_id,
        row.attempts,
        endpoint_id(row),
        endpoint.url,
        endpoint.secret,
        b"" if endpoint.topic is not None else bodies[row.event_id],
        endpoint.topic,
    )


def settle(
    connection: Connection,
    results: Sequence[Settled],
    *,
    schedule: Sequence[float],
    shard: int = 0,
) -> list[str]:
    """Record each attempt and move its delivery on; returns reports of disabled endpoints.

    A batch is a handful of statements however large: the metrics counters, the deliveries by
    fate (a statement per status code, or one executemany), the attempts (one insert, once
    their deliveries are locked: ``attempts.record``), and the failure streaks of the
    endpoints concerned. Several deliverers settle at once on PostgreSQL, and each
    batch touches subscription and counter rows: they are visited in key order, and a healthy
    endpoint's row is not written at all, so two batches never wait on each other's rows in
    opposite orders (a deadlock would undo a batch whose requests were sent, and they would
    be sent again once their lease ran out).
    """
    sent = [r for r in results if r.attempt is not None]
    unsent = [r.claimed.id for r in results if r.attempt is None]
    if unsent:
        connection.execute(_UNSENT, [{"b_id": delivery_id} for delivery_id in sorted(unsent)])
    if not sent:
        return []
    sent.sort(key=lambda r: (r.claimed.subscription_id, r.claimed.id))
    made = [(r, r.attempt, r.at) for r in sent if r.attempt is not None]
    delivered = [m for m in made if m[1].outcome is Outcome.DELIVERED]
    other = [m for m in made if m[1].outcome is not Outcome.DELIVERED]
    counters.add_attempts(connection, [a for _, a, _ in made], shard)
    held: set[int] = set()
    if delivered:
        held = _settle_delivered(connection, delivered)
        health.recovered(
            connection,
            {r.claimed.subscription_id for r, _, _ in delivered if r.claimed.topic is None},
        )
    if other:
        connection.execute(_NOT_DELIVERED, [_unsettled(r, a, at, schedule) for r, a, at in other])
    attempts.record(connection, [_logged(r, a, at) for r, a, at in made], held)
    if not other:
        return []
    return health.failed(
        connection,
        [
            (r.claimed.subscription_id, r.claimed.url, r.claimed.topic is None, a.outcome, at)
            for r, a, at in other
        ],
    )


def _logged(result: Settled, attempt: Attempt, at: datetime) -> dict[str, Any]:
    """The attempt's row in the log."""
    return {
        "delivery_id": result.claimed.id,
        "attempted_at": at,
        "status_code": attempt.status,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "outcome": attempt.outcome,
        "reply": attempt.reply,
    }


def _settle_delivered(
    connection: Connection, delivered: Sequence[tuple[Settled, Attempt, datetime]]
) -> set[int]:
    """Mark delivered rows, a statement per status code; ``delivered_at`` is the latest
    attempt of the group (within a round of each; the attempt log has each one's time).
    Returns the rows marked (locked now, until the commit)."""
    groups: dict[int | None, tuple[list[int], list[datetime]]] = {}
    for r, attempt, at in delivered:
        ids, times = groups.setdefault(attempt.status, ([], []))
        ids.append(r.claimed.id)
        times.append(at)
    marked: set[int] = set()
    for status, (ids, times) in sorted(groups.items(), key=lambda group: group[0] or 0):
        marked.update(
            connection.execute(
                _DELIVERED, {"ids": sorted(ids), "b_status": status, "b_at": max(times)}
            ).scalars()
        )
    return marked


def _unsettled(
    result: Settled, attempt: Attempt, at: datetime, schedule: Sequence[float]
) -> dict[str, Any]:
    """A failed attempt's delivery: due again on the schedule, or failed for good (schedule
    spent, or 410 Gone)."""
    retry = None
    if attempt.outcome is not Outcome.GONE:
        retry = next_attempt_at(
            result.claimed.attempts + 1,
            at,
            schedule=tuple(schedule),
            retry_after=attempt.retry_after,
        )
    return {
        "b_id": result.claimed.id,
        "b_attempts": result.claimed.attempts + 1,
        "b_status": attempt.status,
        "b_error": attempt.error,
        "b_next": DeliveryStatus.FAILED if retry is None else DeliveryStatus.PENDING,
        "b_retry": at if retry is None else retry,
    }


def release_all(connection: Connection) -> int:
    """Return in-flight rows to pending: for the sole deliverer of a SQLite store at start."""
    return connection.execute(
        update(deliveries)
        .where(deliveries.c.status == DeliveryStatus.DELIVERING)
        .values(status=DeliveryStatus.PENDING, lease_until=None)
    ).rowcount
