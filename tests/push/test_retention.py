"""Retention: settled deliveries of old events go with their events and attempt logs; what is
undelivered, recent, or part of the catalog stays. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from syndicator.config import load_config
from syndicator.push import outbox
from syndicator.push import subscriptions as subs
from syndicator.push.retention import prune
from syndicator.push.status import DeliveryStatus
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event, ItemRecord
from syndicator.store.schema import (
    deliveries,
    delivery_attempts,
    documents,
    events,
    items,
    websub_subscriptions,
)
from syndicator.vocabulary import Role
from syndicator.worker.service import Worker

from .conftest import websub_subscriber

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


@pytest.fixture
def engine(store_url: str) -> Engine:
    engine = open_engine(store_url)
    with engine.begin() as connection:
        for n in range(2):
            subs.add(
                connection,
                subs.new_subscription(f"http://127.0.0.1:{9000 + n}/", allow_private=True, now=OLD),
            )
    yield engine
    engine.dispose()


def _event(engine: Engine, name: str, at: datetime, status: DeliveryStatus) -> int:
    """An event at ``at`` fanned out to both subscriptions, each delivery in ``status`` with
    one attempt logged."""
    data = json.dumps({"title": name, "_syndicator": {"categories": [], "tags": []}})
    with engine.begin() as connection:
        [event_id] = records.append_events(
            connection, [Event("item.published", f"_posts/{name}.md", name, data)], at
        )
        outbox.fan_out(connection, [(event_id, Event("item.published", "", name, data))], at)
        ids = list(
            connection.execute(
                select(deliveries.c.id).where(deliveries.c.event_id == event_id)
            ).scalars()
        )
        connection.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(status=status))
        connection.execute(
            insert(delivery_attempts),
            [
                {"delivery_id": i, "attempted_at": at, "status_code": 200, "duration_ms": 1.0}
                for i in ids
            ],
        )
    return event_id


def _websub(engine: Engine, at: datetime, status: DeliveryStatus) -> int:
    with engine.begin() as connection:
        if connection.execute(select(func.count()).select_from(websub_subscriptions)).scalar() == 0:
            websub_subscriber(connection, "ws_1", OLD, NOW + timedelta(days=60))
        row = outbox.pending(f"ws_{at.timestamp()}_{status}", at, websub_subscription_id="ws_1")
        inserted = connection.execute(insert(deliveries).values(row | {"status": status}))
        return int(inserted.inserted_primary_key[0])


def _ids(engine: Engine, table, column) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(select(column)).scalars())


def test_prune_keeps_undelivered_and_recent_rows_and_removes_the_rest(engine):
    gone = [
        _event(engine, "delivered", OLD, DeliveryStatus.DELIVERED),
        _event(engine, "dead-letter", OLD, DeliveryStatus.FAILED),
        _event(engine, "cancelled", OLD, DeliveryStatus.CANCELLED),
    ]
    kept = [
        _event(engine, "pending", OLD, DeliveryStatus.PENDING),
        _event(engine, "in-flight", OLD, DeliveryStatus.DELIVERING),
        _event(engine, "recent", RECENT, DeliveryStatus.DELIVERED),
    ]
    old_websub = _websub(engine, OLD, DeliveryStatus.DELIVERED)
    kept_websub = [
        _websub(engine, OLD, DeliveryStatus.PENDING),
        _websub(engine, RECENT, DeliveryStatus.FAILED),
    ]
    with engine.begin() as connection:
        records.save_items(
            connection, [ItemRecord("_posts/old.md", "old", "published", OLD, None, "v", "{}")]
        )
        records.save_documents(connection, [], [])
        documents_before = connection.execute(select(func.count()).select_from(documents)).scalar()

    pruned = prune(engine, NOW, 30, batch=2)

    assert (pruned.events, pruned.deliveries, pruned.attempts) == (3, 3 * 2 + 1, 3 * 2)
    assert _ids(engine, events, events.c.id) == set(kept)
    with engine.connect() as connection:
        left = connection.execute(select(deliveries.c.event_id, deliveries.c.id)).all()
        attempts = set(connection.execute(select(delivery_attempts.c.delivery_id)).scalars())
        assert connection.execute(select(func.count()).select_from(items)).scalar() == 1
        assert (
            connection.execute(select(func.count()).select_from(documents)).scalar()
            == documents_before
        )
    assert {event for event, _ in left if event is not None} == set(kept)
    assert not set(gone) & {event for event, _ in left}
    websub_left = {delivery for event, delivery in left if event is None}
    assert websub_left == set(kept_websub) and old_websub not in websub_left
    assert attempts <= {delivery for _, delivery in left}
    assert len(attempts) == 3 * 2  # the kept events' attempts are all still there

    assert prune(engine, NOW, 30).events == 0  # nothing more to do


def test_each_transaction_deletes_at_most_a_batch_of_deliveries(engine):
    """One event fans out to every subscriber: the batch counts delivery rows, not events, so
    no transaction holds the write lock for a whole fan-out."""
    for n in range(3):
        _event(engine, f"delivered-{n}", OLD, DeliveryStatus.DELIVERED)  # 2 deliveries each
    left: list[int] = []

    def count() -> None:
        with engine.connect() as connection:
            left.append(connection.execute(select(func.count()).select_from(deliveries)).scalar())

    count()
    pruned = prune(engine, NOW, 30, batch=4, between=count)

    assert (pruned.events, pruned.deliveries, pruned.attempts) == (3, 6, 6)
    assert left[-1] == 0
    assert max(a - b for a, b in pairwise(left)) <= 4, left


def test_cli_prune_prints_what_it_deleted(tmp_path: Path, run_cli):
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[push]\nretention_days = 30\n'
    )
    engine = open_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as connection:
        subs.add(
            connection, subs.new_subscription("http://127.0.0.1:9/", allow_private=True, now=OLD)
        )
    _event(engine, "delivered", OLD, DeliveryStatus.DELIVERED)
    _event(engine, "recent", RECENT, DeliveryStatus.DELIVERED)
    engine.dispose()

    done = run_cli("prune", "--config", str(config), "--now", NOW.isoformat(), cwd=tmp_path)

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == "1 events, 1 deliveries, 1 attempts deleted (older than 30 days)"


def test_the_scanner_role_prunes_and_a_deliverer_does_not(tmp_path: Path, engine, worker_config):
    """Retention runs once per store, in the process holding the scanner role, from the moment
    it takes the role; a deliverer (there may be several) never prunes."""
    old = _event(engine, "old", OLD, DeliveryStatus.DELIVERED)
    recent = _event(engine, "recent", RECENT, DeliveryStatus.DELIVERED)
    config = load_config(worker_config(tmp_path, engine.url.render_as_string(False)))
    deliverer = Worker(
        config, open_engine(config.store.url), role=Role.DELIVERER, clock=lambda: NOW
    )
    assert deliverer.pruner is None

    scanner = Worker(config, open_engine(config.store.url), role=Role.SCANNER, clock=lambda: NOW)
    scanner.start()
    try:
        deadline = time.monotonic() + 60  # a hang guard only
        while old in _ids(engine, events, events.c.id):
            assert time.monotonic() < deadline, "the scanner did not prune"
            time.sleep(0.02)
    finally:
        scanner.stop()
    assert _ids(engine, events, events.c.id) == {recent}
