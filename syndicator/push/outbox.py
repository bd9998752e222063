"""The outbox: deliveries written with their event, claimed with a lease, settled per attempt.

Fan-out runs inside the scan's transaction, so an announced event always has its deliveries
(transactional outbox). Deliverers claim due rows with ``FOR UPDATE SKIP LOCKED`` (ignored by
SQLite, where one process delivers) and a lease: a worker that dies leaves rows whose lease
expires and another worker takes them over, with the same ``webhook-id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, or_, select, update

from syndicator.events import Event
from syndicator.push import subscriptions as subs
from syndicator.push.retry import next_attempt_at, should_disable
from syndicator.push.sender import Attempt, Outcome
from syndicator.store.schema import deliveries, delivery_attempts, events, subscriptions

STATUSES = ("pending", "delivering", "delivered", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one attempt, with everything needed to send it."""

    id: int
    message_id: str
    attempts: int
    subscription_id: str
    url: str
    secret: str
    body: bytes


def message_id(event_id: int, subscription_id: str) -> str:
    """One id per event and endpoint, the same on every retry and replay (idempotency key)."""
    return f"msg_{event_id}_{subscription_id}"


def fan_out(connection: Connection, new: Sequence[tuple[int, Event]], now: datetime) -> int:
    """One pending delivery per (event, matching enabled subscription)."""
    if not new:
        return 0
    chosen = subs.list_all(connection, enabled_only=True)
    rows: list[dict[str, Any]] = []
    for event_id, event in new:
        extension = json.loads(event.data).get("_syndicator", {})
        categories, tags = extension.get("categories", []), extension.get("tags", [])
        for subscription in chosen:
            if subscription.wants(event.type, categories, tags):
                rows.append(
                    {
                        "event_id": event_id,
                        "subscription_id": subscription.id,
                        "message_id": message_id(event_id, subscription.id),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
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
    due = or_(
        and_(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now),
        and_(deliveries.c.status == "delivering", deliveries.c.lease_until < now),
    )
    query = (
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
        )
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(due)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit * 4)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    counts = dict(busy)
    taken: list[Claimed] = []
    cancelled: list[int] = []
    for row in connection.execute(query):
        if not row.enabled:
            cancelled.append(row.id)
            continue
        if len(taken) >= limit or counts.get(row.subscription_id, 0) >= per_endpoint:
            continue
        counts[row.subscription_id] = counts.get(row.subscription_id, 0) + 1
        taken.append(
            Claimed(
                row.id,
                row.message_id,
                row.attempts,
                row.subscription_id,
                row.url,
                row.secret,
                body_of(row.type, row.occurred_at, row.data),
            )
        )
    if taken:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([c.id for c in taken]))
            .values(status="delivering", lease_until=now + lease)
        )
    if cancelled:
        connection.execute(
            update(deliveries).where(deliveries.c.id.in_(cancelled)).values(status="cancelled")
        )
    return taken


def settle(
    connection: Connection,
    results: Sequence[tuple[Claimed, Attempt, datetime]],
    *,
    schedule: Sequence[float],
) -> list[str]:
    """Record each attempt and move its delivery on; returns reports of disabled endpoints."""
    reports: list[str] = []
    if not results:
        return reports
    connection.execute(
        insert(delivery_attempts),
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
    for claimed, attempt, at in results:
        values: dict[str, Any] = {
            "attempts": claimed.attempts + 1,
            "last_status": attempt.status,
            "last_error": attempt.error,
            "lease_until": None,
        }
        outcome = attempt.outcome
        if outcome is Outcome.DELIVERED:
            values |= {"status": "delivered", "delivered_at": at}
            connection.execute(
                update(subscriptions)
                .where(subscriptions.c.id == claimed.subscription_id)
                .values(failing_since=None)
            )
        elif outcome is Outcome.GONE:
            values["status"] = "failed"
            reason = f"410 Gone from {claimed.url} at {at.isoformat()}"
            subs.disable(connection, claimed.subscription_id, reason)
            reports.append(f"subscription {claimed.subscription_id} disabled: {reason}")
        else:
            retry = next_attempt_at(
                claimed.attempts + 1, at, schedule=tuple(schedule), retry_after=attempt.retry_after
            )
            values |= (
                {"status": "failed"}
                if retry is None
                else {"status": "pending", "next_attempt_at": retry}
            )
            reports.extend(_note_failure(connection, claimed, at))
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.id, deliveries.c.status == "delivering")
            .values(**values)
        )
    return reports


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
    connection: Connection, *, status: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    query = (
        select(deliveries, events.c.type.label("event_type"), subscriptions.c.url)
        .join(events, events.c.id == deliveries.c.event_id)
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(deliveries.c.status == status)
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
            "event_id": row.event_id,
            "event_type": row.event_type,
            "subscription_id": row.subscription_id,
            "url": row.url,
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
    """Queue a delivery again (same ``webhook-id``); None if done, else why it cannot be."""
    row = connection.execute(
        select(deliveries.c.status, subscriptions.c.enabled, subscriptions.c.disabled_reason)
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .where(deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return f"no delivery {delivery_id}"
    if not row.enabled:
        return f"its subscription is disabled ({row.disabled_reason})"
    if row.status in ("pending", "delivering"):
        return f"delivery {delivery_id} is already {row.status}"
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="pending", next_attempt_at=now, lease_until=None)
    )
    return None
