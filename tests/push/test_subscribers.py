"""The WebSub subscribers as the console and the API read them, on a real SQLite store: paged
by feed without loss or repeat, filtered by feed, expired leases left out, and the last
successful distribution of each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from syndicator.push import subscribers
from syndicator.push.outbox import pending
from syndicator.push.status import DeliveryStatus
from syndicator.store.database import open_engine
from syndicator.store.schema import deliveries, websub_subscriptions

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _subscriber(n: int, path: str, expires_in: timedelta) -> dict[str, object]:
    return {
        "id": f"ws_{n:02d}",
        "path": path,
        "topic": f"https://example.org/{path}",
        "callback": f"https://reader{n}.example/cb",
        "secret": "s" if n % 2 else "",
        "lease_seconds": 86400,
        "expires_at": NOW + expires_in,
        "created_at": NOW - timedelta(days=1),
        "renewed_at": NOW - timedelta(days=1),
    }


def test_subscribers_pages_filters_and_last_distributions(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    rows = [
        _subscriber(n, "atom.xml" if n < 5 else "tags/a/rss.xml", timedelta(days=1))
        for n in range(8)
    ]
    rows.append(_subscriber(9, "atom.xml", -timedelta(seconds=1)))  # its lease has ended
    with engine.begin() as connection:
        connection.execute(insert(websub_subscriptions), rows)
        for n, (subscriber, delivered) in enumerate(
            [
                ("ws_01", NOW - timedelta(hours=3)),
                ("ws_01", NOW - timedelta(hours=1)),
                ("ws_02", None),
            ]
        ):
            row = pending(f"m{n}", NOW, websub_subscription_id=subscriber)
            connection.execute(insert(deliveries), [row])
            if delivered is not None:
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.message_id == f"m{n}")
                    .values(status=DeliveryStatus.DELIVERED, delivered_at=delivered)
                )

    with engine.connect() as connection:
        seen: list[str] = []
        after = None
        while page := subscribers.active(connection, NOW, limit=3, after=after):
            assert len(page) <= 3
            seen += [s["id"] for s in page]
            after = page[-1]["id"]
        assert seen == [f"ws_{n:02d}" for n in range(8)]  # by feed then id, each once
        feed = subscribers.active(connection, NOW, path="tags/a/rss.xml")
        assert [s["id"] for s in feed] == ["ws_05", "ws_06", "ws_07"]
        assert feed[0]["signed"] and not feed[1]["signed"]
        assert "secret" not in feed[0]
        assert subscribers.subscriber_counts(connection, NOW) == {
            "atom.xml": 5,
            "tags/a/rss.xml": 3,
        }
        last = subscribers.last_distributions(connection, ["ws_01", "ws_02", "ws_03"])
        assert last == {"ws_01": NOW - timedelta(hours=1)}  # the latest success only
        assert subscribers.last_distributions(connection, []) == {}
    engine.dispose()
