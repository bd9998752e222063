"""WebSub subscribers as their readers see them (API, console): who follows which feed, until
when, and when each was last sent its feed. Subscribing and distributing are ``websub``'s."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from syndicator.push.status import DeliveryStatus
from syndicator.store.schema import deliveries, websub_subscriptions


def active(
    connection: Connection,
    now: datetime,
    *,
    limit: int | None = None,
    after: str | None = None,
    path: str | None = None,
) -> list[dict[str, Any]]:
    """Subscriptions in force, by feed then id, without their secrets; ``limit`` of them after
    the id ``after`` (the last of the previous page), and only ``path``'s if given."""
    order = (websub_subscriptions.c.path, websub_subscriptions.c.id)
    query = (
        select(websub_subscriptions)
        .where(websub_subscriptions.c.expires_at > now)
        .order_by(*order)
        .limit(limit)
    )
    if path is not None:
        query = query.where(websub_subscriptions.c.path == path)
    if after is not None:
        cursor = connection.execute(
            select(*order).where(websub_subscriptions.c.id == after)
        ).first()
        if cursor is not None:
            query = query.where(tuple_(*order) > tuple_(*cursor))
    return [
        {
            "id": row.id,
            "topic": row.topic,
            "path": row.path,
            "callback": row.callback,
            "signed": bool(row.secret),
            "lease_seconds": row.lease_seconds,
            "expires_at": row.expires_at.isoformat(),
            "created_at": row.created_at.isoformat(),
            "renewed_at": row.renewed_at.isoformat(),
        }
        for row in connection.execute(query)
    ]


def last_distributions(connection: Connection, ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these subscribers was last sent its feed successfully."""
    chosen = list(ids)
    if not chosen:
        return {}
    return {
        row[0]: row[1]
        for row in connection.execute(
            select(deliveries.c.websub_subscription_id, func.max(deliveries.c.delivered_at))
            .where(
                deliveries.c.websub_subscription_id.in_(chosen),
                deliveries.c.status == DeliveryStatus.DELIVERED,
            )
            .group_by(deliveries.c.websub_subscription_id)
        )
    }


def subscriber_counts(connection: Connection, now: datetime) -> dict[str, int]:
    """Subscriptions in force per feed path."""
    return dict(
        (name, value)
        for name, value in connection.execute(
            select(websub_subscriptions.c.path, func.count())
            .where(websub_subscriptions.c.expires_at > now)
            .group_by(websub_subscriptions.c.path)
        ).all()
    )
