"""``OneOf``: the rows whose column is in a list bound at execution, on SQLite and on
PostgreSQL, whatever the list's length (PostgreSQL binds it as one array)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from syndicator.push import subscriptions as subs
from syndicator.store.database import open_engine
from syndicator.store.schema import subscriptions
from syndicator.store.sql import OneOf

CHOSEN = select(subscriptions.c.url).where(OneOf(subscriptions.c.id, "ids"))


def test_one_of_selects_the_rows_listed_and_no_other(store_url):
    engine = open_engine(store_url)
    try:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        made = [
            subs.new_subscription(f"http://127.0.0.1:9/{n}", allow_private=True, now=now)
            for n in range(5)
        ]
        with engine.begin() as connection:
            for subscription in made:
                subs.add(connection, subscription)
            found = [
                sorted(connection.execute(CHOSEN, {"ids": ids}).scalars())
                for ids in ([made[1].id, made[3].id], [made[4].id], [s.id for s in made])
            ]
        assert found == [
            [made[1].url, made[3].url],
            [made[4].url],
            sorted(s.url for s in made),
        ]
    finally:
        engine.dispose()
