"""Deliverers in other processes woken by PostgreSQL when deliveries are queued.

The listener is tested against a real server: every way of queueing deliveries wakes it once
its transaction commits, a rolled-back one never does, and a deliverer whose idle poll is an
hour still delivers at once. On SQLite nothing listens and nothing is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from syndicator.config import Config, with_overrides
from syndicator.push import deliverer as delivering
from syndicator.push import history, outbox, wakeups, websub
from syndicator.push import subscriptions as subs
from syndicator.push.deliverer import Deliverer
from syndicator.push.status import DeliveryStatus
from syndicator.store.database import open_engine
from syndicator.store.records import Event, append_events
from syndicator.store.schema import deliveries

from .conftest import websub_subscriber
from .receivers import reply

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class Wakes:
    """Counts the listener's calls; ``wait_for(n)`` returns once there were ``n``."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count >= count, timeout), (
                f"{self.count} wakes, not {count}"
            )


def _listening(engine: Engine) -> bool:
    """The listener's connection has run its LISTEN (it then waits on that connection)."""
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"),
                {"listen": f"LISTEN {wakeups.CHANNEL}"},
            ).scalar()
        )


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = open_engine(postgres_url)
    yield made
    made.dispose()


@pytest.fixture
def listening(engine: Engine) -> Iterator[Wakes]:
    """A listener on the store, past its first wake (the look it takes once it listens)."""
    wakes = Wakes()
    listener = wakeups.Listener(engine, wakes)
    listener.start()
    wakes.wait_for(1)
    yield wakes
    listener.stop()


def _subscription(engine: Engine) -> subs.Subscription:
    subscription = subs.new_subscription("http://127.0.0.1:9/hook", allow_private=True, now=NOW)
    with engine.begin() as connection:
        subs.add(connection, subscription)
    return subscription


def _fan_out(engine: Engine) -> None:
    event = Event("item.published", "_posts/a.md", "item-a", "{}")
    with engine.begin() as connection:
        [event_id] = append_events(connection, [event], NOW)
        outbox.fan_out(connection, [(event_id, event)], NOW)


def _fail_all(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(deliveries.update().values(status=DeliveryStatus.FAILED))


def test_every_way_of_queueing_wakes_the_listener_at_commit(tmp_path: Path, engine, listening):
    subscription = _subscription(engine)
    _fan_out(engine)
    listening.wait_for(2)
    with engine.begin() as connection:
        delivery_id = outbox.send_test(connection, subscription.id, NOW)
    listening.wait_for(3)
    _fail_all(engine)
    with engine.begin() as connection:
        assert history.replay(connection, delivery_id, NOW) is None
    listening.wait_for(4)
    _fail_all(engine)
    with engine.begin() as connection:
        replayed = history.replay_failed(
            connection, subscription.id, NOW - timedelta(days=1), NOW + timedelta(days=1), NOW
        )
    assert replayed == 2
    listening.wait_for(5)
    (tmp_path / "atom.xml").write_text("<feed/>")
    with engine.begin() as connection:
        websub_subscriber(connection, "ws-1", NOW, NOW + timedelta(days=10))
        assert websub.enqueue_distribution(connection, tmp_path, NOW) == 1
    listening.wait_for(6)


@pytest.fixture
def heard(postgres_url: str) -> Iterator[Callable[[], list[str]]]:
    """``heard()``: the payloads of the notifications on ``CHANNEL`` up to a marker sent
    after it is called (the store delivers a channel's notifications in commit order, so one
    sent before the marker arrives before it)."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {wakeups.CHANNEL}")

        def until_marker() -> list[str]:
            with psycopg.connect(dsn, autocommit=True) as other:
                other.execute("SELECT pg_notify(%s, 'marker')", [wakeups.CHANNEL])
            payloads: list[str] = []
            for notification in listener.notifies(timeout=30):
                if notification.payload == "marker":
                    return payloads
                payloads.append(notification.payload)
            raise AssertionError("the marker never arrived")

        yield until_marker


def test_a_rolled_back_transaction_wakes_nobody(engine, heard):
    with engine.connect() as connection:
        transaction = connection.begin()
        wakeups.queued(connection)
        transaction.rollback()
    assert heard() == []
    with engine.begin() as connection:
        wakeups.queued(connection)
    assert heard() == [""]


def test_nothing_queued_sends_nothing(engine, heard):
    subscription = _subscription(engine)
    with engine.begin() as connection:
        outbox.fan_out(connection, [], NOW)  # no event, no row
        # Nothing failed to replay.
        assert history.replay_failed(connection, subscription.id, NOW, NOW, NOW) == 0
    assert heard() == []


def test_a_lost_connection_is_opened_again(engine, listening, monkeypatch, caplog):
    monkeypatch.setattr(wakeups, "RECONNECT_SECONDS", 0.05)
    with engine.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = :q"),
            {"q": f"LISTEN {wakeups.CHANNEL}"},
        )
    listening.wait_for(2)  # the look it takes on listening again
    with engine.begin() as connection:
        wakeups.queued(connection)
    listening.wait_for(3)
    assert "listening for queued deliveries failed" in caplog.text


def test_a_deliverer_idle_for_an_hour_delivers_at_once(
    tmp_path: Path, postgres_url: str, serve, monkeypatch
):
    """Another process queues (its own engine); the deliverer's poll would be an hour away."""
    monkeypatch.setattr(delivering, "IDLE_POLL_SECONDS", 3600)
    receiver = serve(reply(200))
    config = with_overrides(
        Config(),
        site={"base_url": "https://example.org"},
        content={"dirs": [str(tmp_path)]},
        output={"dir": str(tmp_path / "out")},
        store={"url": postgres_url},
        push={"allow_private_targets": True, "timeout_seconds": 2},
    )
    theirs, ours = open_engine(postgres_url), open_engine(postgres_url)
    subscription = subs.new_subscription(receiver.url(), allow_private=True, now=NOW)
    with theirs.begin() as connection:
        subs.add(connection, subscription)
    deliverer = Deliverer(config, ours)
    deliverer.start()
    try:
        _wait(lambda: _listening(theirs))
        for sent in range(1, 4):
            with theirs.begin() as connection:
                outbox.send_test(connection, subscription.id, NOW)
            _wait(lambda sent=sent: len(receiver.received) == sent)
            # Settled: the rounds that followed the post are over, so the next one waits on
            # the notification (or the hour).
            _wait(lambda sent=sent: _delivered(theirs) == sent)
    finally:
        deliverer.stop()
        theirs.dispose()
        ours.dispose()


def _delivered(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
            ).scalar_one()
        )


def test_sqlite_has_no_listener_and_sends_nothing(tmp_path: Path):
    engine = open_engine(f"sqlite:///{tmp_path / 'syndicator.db'}")
    wakes = Wakes()
    listener = wakeups.Listener(engine, wakes)
    listener.start()
    with engine.begin() as connection:
        wakeups.queued(connection)
    listener.stop()
    engine.dispose()
    assert wakes.count == 0
    assert not [t for t in threading.enumerate() if t.name == "wakeups"]
