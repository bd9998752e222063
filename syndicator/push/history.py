"""The delivery log as its readers see it (CLI, API, console): typed views, read a page at a
time, newest first, and replay of a settled delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from syndicator.push import wakeups
from syndicator.push.endpoints import endpoints
from syndicator.push.status import UNSETTLED, DeliveryKind, DeliveryStatus
from syndicator.store.schema import (
    deliveries,
    delivery_attempts,
    events,
    subscriptions,
    websub_subscriptions,
)
from syndicator.store.sql import is_constant

DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class AttemptView:
    at: str
    status: int | None
    duration_ms: float
    error: str | None
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One delivery with its attempt log; a WebSub one has no event (``event_id`` and
    ``event_type`` None) and ``topic`` is its feed's URL."""

    id: int
    kind: DeliveryKind
    event_id: int | None
    event_type: str | None
    subscription_id: str
    url: str
    topic: str | None
    webhook_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    log: tuple[AttemptView, ...]


def list_deliveries(
    connection: Connection,
    *,
    status: DeliveryStatus | None = None,
    limit: int = DEFAULT_PAGE,
    before: int | None = None,
    delivery_id: int | None = None,
    subscription_id: str | None = None,
) -> list[DeliveryView]:
    """A page of deliveries, newest first: those with an id below ``before`` (the last id of
    the previous page), so rows added meanwhile never shift a page; all of them, or one
    webhook subscription's."""
    query = (
        select(
            deliveries,
            events.c.type.label("event_type"),
            func.coalesce(subscriptions.c.url, websub_subscriptions.c.callback).label("url"),
            websub_subscriptions.c.topic,
        )
        .select_from(endpoints().outerjoin(events, events.c.id == deliveries.c.event_id))
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    if status:
        # Written in: PostgreSQL's index of a subscription's deliveries by status holds all
        # but the delivered ones (0009), and only a constant shows a plan what it asks for.
        query = query.where(is_constant(deliveries.c.status, status))
    if before is not None:
        query = query.where(deliveries.c.id < before)
    if delivery_id is not None:
        query = query.where(deliveries.c.id == delivery_id)
    if subscription_id is not None:
        query = query.where(deliveries.c.subscription_id == subscription_id)
    rows = connection.execute(query).all()
    logs: dict[int, list[AttemptView]] = {}
    if rows:
        for a in connection.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_([row.id for row in rows]))
            .order_by(delivery_attempts.c.id)
        ):
            logs.setdefault(a.delivery_id, []).append(
                AttemptView(
                    a.attempted_at.isoformat(),
                    a.status_code,
                    round(a.duration_ms, 1),
                    a.error,
                    a.reply,
                )
            )
    return [_view(row, tuple(logs.get(row.id, ()))) for row in rows]


def _view(row: Any, log: tuple[AttemptView, ...]) -> DeliveryView:
    webhook = row.websub_subscription_id is None
    return DeliveryView(
        id=row.id,
        kind=DeliveryKind.WEBHOOK if webhook else DeliveryKind.WEBSUB,
        event_id=row.event_id,
        event_type=row.event_type,
        subscription_id=row.subscription_id or row.websub_subscription_id,
        url=row.url,
        topic=row.topic,
        webhook_id=row.message_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=(
            row.next_attempt_at.isoformat() if row.status == DeliveryStatus.PENDING else None
        ),
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at.isoformat() if row.delivered_at else None,
        log=log,
    )


def find(connection: Connection, delivery_id: int) -> DeliveryView | None:
    found = list_deliveries(connection, delivery_id=delivery_id, limit=1)
    return found[0] if found else None


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
        .select_from(endpoints())
        .where(deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        return f"no delivery {delivery_id}"
    if row.websub_subscription_id is not None:
        if row.expires_at <= now:
            return "its WebSub subscription has expired"
    elif not row.enabled:
        return f"its subscription is disabled ({row.disabled_reason})"
    if row.status in UNSETTLED:
        return f"delivery {delivery_id} is already {row.status}"
    connection.execute(_REQUEUE.where(deliveries.c.id == delivery_id), {"now": now})
    wakeups.queued(connection)
    return None


_REQUEUE = update(deliveries).values(
    status=DeliveryStatus.PENDING, next_attempt_at=bindparam("now"), lease_until=None
)


def replay_failed(
    connection: Connection, subscription_id: str, since: datetime, until: datetime, now: datetime
) -> int:
    """Queue again every failed delivery of a webhook subscription created in [since, until),
    each with its own ``webhook-id``; how many. A disabled subscription's are left as they are
    (``replay`` says why)."""
    enabled = connection.execute(
        select(subscriptions.c.enabled).where(subscriptions.c.id == subscription_id)
    ).scalar()
    if not enabled:
        return 0
    requeued = connection.execute(
        _REQUEUE.where(
            deliveries.c.subscription_id == subscription_id,
            is_constant(deliveries.c.status, DeliveryStatus.FAILED),
            deliveries.c.created_at >= since,
            deliveries.c.created_at < until,
        ),
        {"now": now},
    ).rowcount
    if requeued:
        wakeups.queued(connection)
    return int(requeued)


def queue_depth(connection: Connection, now: datetime) -> int:
    """Deliveries due and not yet taken: a value that keeps growing means too few deliverers."""
    return int(
        connection.execute(
            select(func.count()).where(
                # Written in, so PostgreSQL's due index of unsettled rows serves it (0008).
                is_constant(deliveries.c.status, DeliveryStatus.PENDING),
                deliveries.c.next_attempt_at <= now,
            )
        ).scalar_one()
    )


def counts_since(connection: Connection, since: datetime) -> dict[DeliveryStatus, int]:
    """Deliveries made since ``since``, by status."""
    return {
        DeliveryStatus(status): count
        for status, count in connection.execute(
            select(deliveries.c.status, func.count())
            .where(deliveries.c.created_at >= since)
            .group_by(deliveries.c.status)
        )
    }


def last_settled(
    connection: Connection, subscription_id: str
) -> dict[DeliveryStatus, datetime | None]:
    """When the subscription last had a delivery accepted, and when the last attempt of its
    newest failed delivery was made."""

    def newest(status: DeliveryStatus) -> Any:
        return connection.execute(
            select(deliveries.c.id, deliveries.c.delivered_at)
            .where(
                deliveries.c.subscription_id == subscription_id,
                is_constant(deliveries.c.status, status),
            )
            .order_by(deliveries.c.id.desc())
            .limit(1)
        ).first()

    delivered = newest(DeliveryStatus.DELIVERED)
    failed = newest(DeliveryStatus.FAILED)
    failed_at = None
    if failed is not None:
        failed_at = connection.execute(
            select(func.max(delivery_attempts.c.attempted_at)).where(
                delivery_attempts.c.delivery_id == failed.id
            )
        ).scalar()
    return {
        DeliveryStatus.DELIVERED: delivered.delivered_at if delivered else None,
        DeliveryStatus.FAILED: failed_at,
    }
