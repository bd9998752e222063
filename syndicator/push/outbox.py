"""The outbox: deliveries written with their event, claimed with a lease, settled per attempt.

Fan-out runs inside the scan's transaction, so an announced event always has its deliveries
(transactional outbox). Deliverers claim due rows with ``FOR UPDATE SKIP LOCKED`` (ignored by
SQLite, where one process delivers) and a lease: a worker that dies leaves rows whose lease
expires and another worker takes them over, with the same ``webhook-id``.

Two kinds of endpoint share this one path (claim, lease, retries, attempt log, replay): webhook
subscriptions, sent an event, and WebSub subscribers (``syndicator.push.websub``), sent the
current document of the feed they follow. A row names exactly one of the two.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, case, false, func, insert, select, update

from syndicator.push import subscriptions as subs
from syndicator.push.retry import next_attempt_at, should_disable
from syndicator.push.sender import Attempt, Outcome
from syndicator.store.records import Event
from syndicator.store.schema import (
    deliveries,
    delivery_attempts,
    events,
    subscriptions,
    websub_subscriptions,
)

STATUSES = ("pending", "delivering", "delivered", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Topic:
    """The feed a WebSub delivery sends: its file in the output folder, read when sent so that
    every attempt carries the newest version, and the topic URL its subscriber knows it by."""

    path: str
    url: str


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


def message_id(event_id: int, subscription_id: str) -> str:
    """One id per event and endpoint, the same on every retry and replay (idempotency key)."""
    return f"msg_{event_id}_{subscription_id}"


def pending(message: str, now: datetime, **endpoint: object) -> dict[str, Any]:
    """A new delivery row, due at once; ``endpoint`` holds ``event_id`` and ``subscription_id``
    for a webhook, ``websub_subscription_id`` for a WebSub distribution."""
    return {
        "message_id": message,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        **endpoint,
    }


def fan_out(connection: Connection, new: Sequence[tuple[int, Event]], now: datetime) -> int:
    """One pending delivery per (event, matching enabled subscription)."""
    if not new:
        return 0
    chosen = subs.list_all(connection, enabled_only=True)
    rows: list[dict[str, Any]] = []
    for event_id, event in new:
        extension = json.loads(event.data).get("_syndicator", {})
        categories, tags = extension.get("categories", []), extension.get("tags", [])
        rows.extend(
            pending(
                message_id(event_id, subscription.id),
                now,
                event_id=event_id,
                subscription_id=subscription.id,
            )
            for subscription in chosen
            if subscription.wants(event.type, categories, tags)
        )
    if rows:
        connection.execute(insert(deliveries), rows)
    return len(rows)


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

    ``busy`` counts what this worker already has in flight per subscription; rows over the cap
    stay pending for another worker or a later round, so a dead endpoint never takes every slot.
    """
    window = {"now": now, "window": limit * 4}
    rows = connection.execute(_LAPSED, window).all()
    window["window"] -= len(rows)
    rows += connection.execute(_PENDING, window).all()
    counts = dict(busy)
    taken: list[Claimed] = []
    cancelled: list[int] = []
    for row in rows:
        if _closed(row, now):
            cancelled.append(row.id)
            continue
        endpoint = row.websub_subscription_id or row.subscription_id
        if len(taken) >= limit or counts.get(endpoint, 0) >= per_endpoint:
            continue
        counts[endpoint] = counts.get(endpoint, 0) + 1
        taken.append(_claimed(row))
    if taken:
        won = set(
            connection.execute(
                _TAKE, {"ids": [c.id for c in taken], "now": now, "until": now + lease}
            ).scalars()
        )
        taken = [claimed for claimed in taken if claimed.id in won]
    if cancelled:
        connection.execute(_CANCEL, {"ids": cancelled})
    return taken


def _endpoints() -> Any:
    """Deliveries with whichever endpoint each names (and a webhook's event)."""
    return (
        deliveries.outerjoin(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .outerjoin(events, events.c.id == deliveries.c.event_id)
        .outerjoin(
            websub_subscriptions,
            websub_subscriptions.c.id == deliveries.c.websub_subscription_id,
        )
    )


def _due(condition: Any) -> Any:
    """The first ``:window`` deliveries meeting ``condition``, oldest due first, locked.

    ``claim`` asks for lapsed leases, then pending rows, in two statements rather than one with
    OR: each then reads ``ix_deliveries_due`` in its order and stops at the window, where the
    OR made SQLite sort every due row on each claim (200 ms a round with 200,000 pending).
    Ties go by the index (insertion order on both stores), so no sort on ``id`` is asked for.
    """
    return (
        select(
            deliveries.c.id,
            deliveries.c.message_id,
            deliveries.c.attempts,
            deliveries.c.subscription_id,
            subscriptions.c.url,
            subscriptions.c.secret,
            subscriptions.c.enabled,
            events.c.type,
            events.c.occurred_at,
            events.c.data,
            deliveries.c.websub_subscription_id,
            websub_subscriptions.c.callback,
            websub_subscriptions.c.secret.label("websub_secret"),
            websub_subscriptions.c.path,
            websub_subscriptions.c.topic,
            websub_subscriptions.c.expires_at,
        )
        .select_from(_endpoints())
        .where(condition)
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("window"))
        .with_for_update(of=deliveries, skip_locked=True)
    )


# The statements of every round, built once: building and keying them anew each round cost
# about as much as running them.
_LEASE_LAPSED = and_(
    deliveries.c.status == "delivering", deliveries.c.lease_until < bindparam("now")
)
_PENDING_DUE = and_(
    deliveries.c.status == "pending", deliveries.c.next_attempt_at <= bindparam("now")
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
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        case(
            (deliveries.c.status == "pending", _PENDING_DUE),
            (deliveries.c.status == "delivering", _LEASE_LAPSED),
            else_=false(),
        ),
    )
    .values(status="delivering", lease_until=bindparam("until"))
    .returning(deliveries.c.id)
)
_CANCEL = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .values(status="cancelled")
)
_RECORD_ATTEMPTS = insert(delivery_attempts)
_DELIVERED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == "delivering")
    .values(
        status="delivered",
        attempts=bindparam("b_attempts"),
        last_status=bindparam("b_status"),
        last_error=None,
        lease_until=None,
        delivered_at=bindparam("b_at"),
    )
)
_RECOVERED = (
    update(subscriptions)
    .where(
        subscriptions.c.id.in_(bindparam("ids", expanding=True)),
        subscriptions.c.failing_since.is_not(None),
    )
    .values(failing_since=None)
)


def _closed(row: Any, now: datetime) -> bool:
    """Whether the row's endpoint takes no more deliveries (a disabled webhook subscription, an
    expired WebSub lease)."""
    if row.websub_subscription_id is not None:
        return bool(row.expires_at <= now)
    return not row.enabled


def _claimed(row: Any) -> Claimed:
    """The delivery as it will be sent; built only for rows taken, as a webhook's body costs a
    serialisation."""
    if row.websub_subscription_id is not None:
        return Claimed(
            row.id,
            row.message_id,
            row.attempts,
            row.websub_subscription_id,
            row.callback,
            row.websub_secret,
            b"",
            Topic(row.path, row.topic),
        )
    return Claimed(
        row.id,
        row.message_id,
        row.attempts,
        row.subscription_id,
        row.url,
        row.secret,
        body_of(row.type, row.occurred_at, row.data),
    )


def settle(
    connection: Connection,
    results: Sequence[tuple[Claimed, Attempt, datetime]],
    *,
    schedule: Sequence[float],
) -> list[str]:
    """Record each attempt and move its delivery on; returns reports of disabled endpoints.

    Several deliverers settle at once on PostgreSQL, and each batch touches subscription rows:
    they are visited in id order, and a healthy endpoint's row is not written at all, so two
    batches never wait on each other's rows in opposite orders (a deadlock would undo a batch
    whose requests were sent, and they would be sent again once their lease ran out).
    """
    reports: list[str] = []
    if not results:
        return reports
    results = sorted(results, key=lambda result: (result[0].subscription_id, result[0].id))
    connection.execute(
        _RECORD_ATTEMPTS,
        [
            {
                "delivery_id": claimed.id,
                "attempted_at": at,
                "status_code": attempt.status,
                "duration_ms": attempt.duration_ms,
                "error": attempt.error,
            }
            for claimed, attempt, at in results
        ],
    )
    delivered = [r for r in results if r[1].outcome is Outcome.DELIVERED]
    _settle_delivered(connection, delivered)
    for claimed, attempt, at in results:
        if attempt.outcome is Outcome.DELIVERED:
            continue
        values: dict[str, Any] = {
            "attempts": claimed.attempts + 1,
            "last_status": attempt.status,
            "last_error": attempt.error,
            "lease_until": None,
        }
        webhook = claimed.topic is None
        if attempt.outcome is Outcome.GONE:
            values["status"] = "failed"
            reports.append(_gone(connection, claimed, at))
        else:
            retry = next_attempt_at(
                claimed.attempts + 1, at, schedule=tuple(schedule), retry_after=attempt.retry_after
            )
            values |= (
                {"status": "failed"}
                if retry is None
                else {"status": "pending", "next_attempt_at": retry}
            )
            if webhook:
                reports.extend(_note_failure(connection, claimed, at))
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.id, deliveries.c.status == "delivering")
            .values(**values)
        )
    return reports


def _settle_delivered(
    connection: Connection, delivered: Sequence[tuple[Claimed, Attempt, datetime]]
) -> None:
    """The common case in two statements, however many: the deliveries (one executemany), and
    the failure streaks of the webhook endpoints that had one (healthy ones are not written)."""
    if not delivered:
        return
    connection.execute(
        _DELIVERED,
        [
            {"b_id": c.id, "b_attempts": c.attempts + 1, "b_status": a.status, "b_at": at}
            for c, a, at in delivered
        ],
    )
    recovered = sorted({c.subscription_id for c, _, _ in delivered if c.topic is None})
    connection.execute(_RECOVERED, {"ids": recovered})


def _gone(connection: Connection, claimed: Claimed, at: datetime) -> str:
    """410 Gone ends the endpoint at once: a webhook subscription is disabled, a WebSub
    subscription's lease ends (it is removed with the other expired ones)."""
    reason = f"410 Gone from {claimed.url} at {at.isoformat()}"
    if claimed.topic is None:
        subs.disable(connection, claimed.subscription_id, reason)
        return f"subscription {claimed.subscription_id} disabled: {reason}"
    connection.execute(
        update(websub_subscriptions)
        .where(websub_subscriptions.c.id == claimed.subscription_id)
        .values(expires_at=at)
    )
    return f"WebSub subscription {claimed.subscription_id} ended: {reason}"


def _note_failure(connection: Connection, claimed: Claimed, at: datetime) -> list[str]:
    """Start or extend the endpoint's failure streak; five days of it disables the endpoint."""
    connection.execute(
        update(subscriptions)
        .where(
            subscriptions.c.id == claimed.subscription_id, subscriptions.c.failing_since.is_(None)
        )
        .values(failing_since=at)
    )
    since = connection.execute(
        select(subscriptions.c.failing_since).where(subscriptions.c.id == claimed.subscription_id)
    ).scalar()
    if since is not None and should_disable(since, at):
        reason = f"every attempt failed since {since.isoformat()} (5 days)"
        subs.disable(connection, claimed.subscription_id, reason)
        return [f"subscription {claimed.subscription_id} disabled: {reason}"]
    return []


def release_all(connection: Connection) -> int:
    """Return in-flight rows to pending: for the sole deliverer of a SQLite store at start."""
    return connection.execute(
        update(deliveries)
        .where(deliveries.c.status == "delivering")
        .values(status="pending", lease_until=None)
    ).rowcount


def list_deliveries(
    connection: Connection,
    *,
    status: str | None = None,
    limit: int = 1000,
    delivery_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first, each with its attempt log; ``kind`` tells webhooks from WebSub (whose
    ``event_id`` and ``event_type`` are None and ``topic`` is the feed's URL)."""
    query = (
        select(
            deliveries,
            events.c.type.label("event_type"),
            func.coalesce(subscriptions.c.url, websub_subscriptions.c.callback).label("url"),
            websub_subscriptions.c.topic,
        )
        .select_from(_endpoints())
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(deliveries.c.status == status)
    if delivery_id is not None:
        query = query.where(deliveries.c.id == delivery_id)
    rows = connection.execute(query).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for a in connection.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(chunk))
            .order_by(delivery_attempts.c.id)
        ):
            attempts.setdefault(a.delivery_id, []).append(
                {
                    "at": a.attempted_at.isoformat(),
                    "status": a.status_code,
                    "duration_ms": round(a.duration_ms, 1),
                    "error": a.error,
                }
            )
    return [
        {
            "id": row.id,
            "kind": "webhook" if row.websub_subscription_id is None else "websub",
            "event_id": row.event_id,
            "event_type": row.event_type,
            "subscription_id": row.subscription_id or row.websub_subscription_id,
            "url": row.url,
            "topic": row.topic,
            "webhook_id": row.message_id,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at.isoformat() if row.status == "pending" else None,
            "last_status": row.last_status,
            "last_error": row.last_error,
            "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
            "log": attempts.get(row.id, []),
        }
        for row in rows
    ]


def replay(connection: Connection, delivery_id: int, now: datetime) -> str | None:
    """Queue a delivery again (same ``webhook-id``; a WebSub one sends the feed as it is now);
    None if done, else why it cannot be."""
    row = connection.execute(
        select(
            deliveries.c.status,
            deliveries.c.websub_subscription_id,
            subscriptions.c.enabled,
            subscriptions.c.disabled_reason,
            websub_subscriptions.c.expires_at,
        )
        .select_from(_endpoints())
        .where(deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return f"no delivery {delivery_id}"
    if row.websub_subscription_id is not None:
        if row.expires_at <= now:
            return "its WebSub subscription has expired"
    elif not row.enabled:
        return f"its subscription is disabled ({row.disabled_reason})"
    if row.status in ("pending", "delivering"):
        return f"delivery {delivery_id} is already {row.status}"
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="pending", next_attempt_at=now, lease_until=None)
    )
    return None
