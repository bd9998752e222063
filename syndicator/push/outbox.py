"""The outbox: deliveries written with their event, in the scan's transaction.

Fan-out runs inside the transaction that records the events, so an announced event always has
its deliveries (transactional outbox): a crash at any point loses nothing. What happens to a
row afterwards is the lease queue's (``syndicator.push.queue``); reading the rows back is the
delivery log's (``syndicator.push.history``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from syndicator.push import subscriptions as subs
from syndicator.push import wakeups
from syndicator.push.status import DeliveryStatus
from syndicator.store.records import TEST_EVENT, Event, append_events
from syndicator.store.schema import deliveries


def message_id(event_id: int, subscription_id: str) -> str:
    """One id per event and endpoint, the same on every retry and replay (idempotency key)."""
    return f"msg_{event_id}_{subscription_id}"


def pending(message: str, now: datetime, **endpoint: object) -> dict[str, Any]:
    """A new delivery row, due at once; ``endpoint`` holds ``event_id`` and ``subscription_id``
    for a webhook, ``websub_subscription_id`` for a WebSub distribution."""
    return {
        "message_id": message,
        "status": DeliveryStatus.PENDING,
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
        rows.extend(
            pending(
                message_id(event_id, subscription.id),
                now,
                event_id=event_id,
                subscription_id=subscription.id,
            )
            for subscription in chosen
            if subscription.wants(event.type, event.categories, event.tags)
        )
    if rows:
        connection.execute(insert(deliveries), rows)
        wakeups.queued(connection)
    return len(rows)


def send_test(connection: Connection, subscription_id: str, now: datetime) -> int:
    """Queue a ``webhook.test`` event for one subscription only (whatever its filters), signed
    and retried like any other; the delivery's id."""
    data = json.dumps(
        {
            "id": f"test-{now.isoformat()}",
            "title": "Test event",
            "content_text": "A test event sent from the syndicator console.",
            "_syndicator": {"test": True},
        }
    )
    [event_id] = append_events(connection, [Event(TEST_EVENT, "", "", data)], now)
    row = pending(message_id(event_id, subscription_id), now, event_id=event_id)
    inserted = connection.execute(
        insert(deliveries).values(**row, subscription_id=subscription_id)
    ).inserted_primary_key
    assert inserted is not None  # an INSERT of one row always has one
    wakeups.queued(connection)
    return int(inserted[0])
