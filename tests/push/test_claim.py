"""The lease queue's claim on the store itself, on SQLite and on PostgreSQL: what a claimed
delivery carries, and a delivery whose endpoint closed after it was queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from syndicator.push import outbox, queue
from syndicator.push import subscriptions as subs
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event
from syndicator.store.schema import deliveries, subscriptions

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_delivery_whose_subscription_was_disabled_after_it_was_queued_is_cancelled(store_url):
    engine = open_engine(store_url)
    try:
        kept, closed = (
            subs.new_subscription(f"http://127.0.0.1:9/{name}", allow_private=True, now=NOW)
            for name in ("kept", "closed")
        )
        event = Event("item.published", "_posts/a.md", "a", '{"id": "a"}')
        with engine.begin() as connection:
            subs.add(connection, kept)
            subs.add(connection, closed)
            [event_id] = records.append_events(connection, [event], NOW)
            outbox.fan_out(connection, [(event_id, event)], NOW)
            # What a disable committed while a scan fanned out to the subscription leaves:
            # the flag set, the new delivery pending.
            connection.execute(
                update(subscriptions).where(subscriptions.c.id == closed.id).values(enabled=False)
            )

        with engine.begin() as connection:
            taken = queue.claim(
                connection, NOW, limit=10, lease=timedelta(minutes=1), busy={}, per_endpoint=10
            )
            statuses = dict(
                connection.execute(select(deliveries.c.subscription_id, deliveries.c.status)).all()
            )

        assert [(c.subscription_id, c.url, c.secret, c.topic) for c in taken] == [
            (kept.id, kept.url, kept.secret, None)
        ]
        assert json.loads(taken[0].body)["data"] == {"id": "a"}
        assert statuses == {kept.id: "delivering", closed.id: "cancelled"}
    finally:
        engine.dispose()
