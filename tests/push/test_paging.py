"""Paged reads: every row exactly once across pages, newest first, while rows are added."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from syndicator.push import history, outbox
from syndicator.push import subscriptions as subs
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event

START = datetime(2026, 6, 1, tzinfo=UTC)
DATA = json.dumps({"title": "t", "_syndicator": {"categories": [], "tags": []}})


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


class Store:
    """Adds subscriptions and events (fanned out to every subscription) one at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.added = 0

    def subscription(self) -> str:
        self.added += 1
        created = START + timedelta(seconds=self.added)
        made = subs.new_subscription("http://127.0.0.1:9/", allow_private=True, now=created)
        with self.engine.begin() as connection:
            subs.add(connection, made)
        return made.id

    def event(self) -> int:
        self.added += 1
        at = START + timedelta(seconds=self.added)
        new = Event("item.published", f"_posts/{self.added}.md", str(self.added), DATA)
        with self.engine.begin() as connection:
            [event_id] = records.append_events(connection, [new], at)
            outbox.fan_out(connection, [(event_id, new)], at)
        return event_id


def _walk(
    read: Callable[[int, object], Sequence[object]],
    key: Callable[[object], object],
    add: Callable[[], object],
    limit: int,
) -> list[object]:
    """Every page in turn, adding a row after each page; the keys seen, in order."""
    seen: list[object] = []
    cursor = None
    while True:
        page = read(limit, cursor)
        seen.extend(key(row) for row in page)
        add()
        if len(page) < limit:
            return seen
        cursor = key(page[-1])


def test_events_are_paged_newest_first_each_once(engine):
    store = Store(engine)
    before = [store.event() for _ in range(23)]

    def read(limit: int, cursor: object) -> Sequence[object]:
        with engine.connect() as connection:
            return records.recent_events(connection, limit=limit, before=cursor)

    seen = _walk(read, lambda e: e.id, store.event, limit=5)

    assert seen == sorted(before, reverse=True)


def test_deliveries_are_paged_newest_first_each_once(engine):
    store = Store(engine)
    store.subscription()
    store.subscription()
    for _ in range(11):
        store.event()
    with engine.connect() as connection:
        everything = [d.id for d in history.list_deliveries(connection, limit=1000)]

    def read(limit: int, cursor: object) -> Sequence[object]:
        with engine.connect() as connection:
            return history.list_deliveries(connection, limit=limit, before=cursor)

    seen = _walk(read, lambda d: d.id, store.event, limit=4)

    assert len(everything) == 22
    assert seen == everything == sorted(everything, reverse=True)


def test_subscriptions_are_paged_newest_first_each_once(engine):
    store = Store(engine)
    before = [store.subscription() for _ in range(13)]

    def read(limit: int, cursor: object) -> Sequence[object]:
        with engine.connect() as connection:
            return subs.page(connection, limit=limit, before=cursor)

    seen = _walk(read, lambda s: s.id, store.subscription, limit=3)

    assert seen == before[::-1]


def test_cli_lists_print_a_page_and_where_the_next_starts(tmp_path: Path, run_cli):
    url = f"sqlite:///{tmp_path / 's.db'}"
    config = tmp_path / "syndicator.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    engine = open_engine(url)
    store = Store(engine)
    store.subscription()
    ids = [store.event() for _ in range(5)]
    engine.dispose()

    def cli(*args: str) -> tuple[list[str], str]:
        done = run_cli(*args, "--config", str(config), cwd=tmp_path)
        assert done.code == 0, done.stderr
        return [line.split("\t")[0] for line in done.stdout.splitlines()], done.stderr

    first, more = cli("events", "list", "--limit", "3")
    assert first == [str(i) for i in ids[:1:-1]] and more.strip() == f"more: --before {ids[2]}"
    rest, more = cli("events", "list", "--limit", "3", "--before", str(ids[2]))
    assert rest == [str(i) for i in ids[1::-1]] and more == ""
    listed, more = cli("deliveries", "list", "--limit", "2")
    assert len(listed) == 2 and more.startswith("more: --before ")
    listed, _ = cli("subscriptions", "list")
    assert len(listed) == 1
