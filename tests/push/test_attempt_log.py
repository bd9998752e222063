"""The attempt log has no foreign key to its deliveries (``syndicator.push.attempts``): an
attempt is never logged for a delivery that is gone, and goes when its delivery goes, on SQLite
and on PostgreSQL, also when the two happen at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, text

from syndicator.push import outbox, queue, websub
from syndicator.push import subscriptions as subs
from syndicator.push.queue import Claimed, Settled
from syndicator.push.sender import Attempt
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event
from syndicator.store.schema import deliveries, delivery_attempts

from .conftest import websub_subscriber

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=1)


def _store(store_url: str, names: tuple[str, ...]) -> tuple[Engine, list[subs.Subscription]]:
    """A store with a subscription per name and one event fanned out to them."""
    engine = open_engine(store_url)
    made = [
        subs.new_subscription(f"http://127.0.0.1:9/{name}", allow_private=True, now=NOW)
        for name in names
    ]
    event = Event("item.published", "_posts/a.md", "a", '{"id": "a"}')
    with engine.begin() as connection:
        for subscription in made:
            subs.add(connection, subscription)
        [event_id] = records.append_events(connection, [event], NOW)
        outbox.fan_out(connection, [(event_id, event)], NOW)
    return engine, made


def _claim(engine: Engine) -> dict[str, Claimed]:
    with engine.begin() as connection:
        taken = queue.claim(connection, NOW, limit=10, lease=LEASE, busy={}, per_endpoint=10)
    return {claimed.subscription_id: claimed for claimed in taken}


def _logged(engine: Engine) -> list[tuple[int, bool]]:
    """Each logged attempt's delivery, and whether that delivery exists."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                delivery_attempts.c.delivery_id,
                select(func.count())
                .where(deliveries.c.id == delivery_attempts.c.delivery_id)
                .scalar_subquery(),
            ).order_by(delivery_attempts.c.id)
        ).all()
    return [(delivery, bool(found)) for delivery, found in rows]


@pytest.mark.parametrize("status", [204, 500])
def test_an_attempt_at_a_delivery_removed_meanwhile_is_not_logged(store_url, status):
    """The subscription was removed while its delivery was being posted: the settlement
    logs the other attempts and goes through (with the key, it failed whole, and again on
    every round after it)."""
    engine, (kept, removed) = _store(store_url, ("kept", "removed"))
    try:
        claimed = _claim(engine)
        with engine.begin() as connection:
            assert subs.remove(connection, removed.id)
        results = [
            Settled(claimed[s.id], Attempt(status, 3.0, None if status < 300 else "HTTP 500"), NOW)
            for s in (kept, removed)
        ]
        with engine.begin() as connection:
            queue.settle(connection, results, schedule=(60.0,))
            [(delivery_id, state)] = connection.execute(
                select(deliveries.c.id, deliveries.c.status)
            ).all()
        assert delivery_id == claimed[kept.id].id
        assert state == ("delivered" if status == 204 else "pending")
        assert _logged(engine) == [(delivery_id, True)]
    finally:
        engine.dispose()


def test_removing_an_endpoint_deletes_the_attempts_of_its_deliveries(store_url):
    """A webhook subscription removed, a WebSub subscription ended: their deliveries go
    (deleted, or by cascade), and their attempts with them."""
    engine, (kept, removed) = _store(store_url, ("kept", "removed"))
    try:
        with engine.begin() as connection:
            websub_subscriber(connection, "ws_1", NOW, NOW + timedelta(seconds=30))
            connection.execute(
                insert(deliveries).values(
                    outbox.pending("ws_a", NOW, websub_subscription_id="ws_1")
                )
            )
        claimed = _claim(engine)
        assert set(claimed) == {kept.id, removed.id, "ws_1"}
        failed = Attempt(500, 3.0, "HTTP 500")
        with engine.begin() as connection:
            queue.settle(
                connection, [Settled(c, failed, NOW) for c in claimed.values()], schedule=(60.0,)
            )
        assert len(_logged(engine)) == 3

        with engine.begin() as connection:
            assert subs.remove(connection, removed.id)
            assert websub.expire(connection, NOW + timedelta(minutes=1)) == 1

        assert _logged(engine) == [(claimed[kept.id].id, True)]
    finally:
        engine.dispose()


def test_a_removal_waits_for_a_settlement_logging_attempts_of_its_deliveries(postgres_url):
    """On PostgreSQL the two run at once: the removal, begun while a settlement that logged an
    attempt for one of its deliveries is still open, waits for it and deletes that attempt
    too."""
    engine, (removed,) = _store(postgres_url, ("removed",))
    try:
        claimed = _claim(engine)[removed.id]
        settling = engine.connect()
        settling.begin()
        queue.settle(settling, [Settled(claimed, Attempt(204, 3.0, None), NOW)], schedule=(60.0,))
        pid = settling.execute(text("SELECT pg_backend_pid()")).scalar_one()
        removal = threading.Thread(target=_remove, args=(engine, removed.id))
        removal.start()
        with engine.connect() as watching:
            # The removal waits on a lock the settlement holds (bounded: the join below).
            for _ in range(1000):
                waiting = watching.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                    ),
                    {"pid": pid},
                ).scalar_one()
                if waiting:
                    break
                watching.rollback()
                threading.Event().wait(0.01)
        assert waiting
        settling.commit()
        settling.close()
        removal.join(timeout=30)
        assert not removal.is_alive()
        assert _logged(engine) == []
    finally:
        engine.dispose()


def _remove(engine: Engine, subscription_id: str) -> None:
    with engine.begin() as connection:
        subs.remove(connection, subscription_id)
