"""``OneOf``: the rows whose column is in a list bound at execution, on SQLite and on
PostgreSQL, whatever the list's length (PostgreSQL binds it as one array). ``InsertRows``: a
batch of rows stored as they were given (PostgreSQL binds a column as one array)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from syndicator.push import subscriptions as subs
from syndicator.push.sender import Outcome
from syndicator.store.database import open_engine
from syndicator.store.schema import delivery_attempts, subscriptions
from syndicator.store.sql import InsertRows, OneOf, is_constant

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


def test_insert_rows_stores_each_row_as_given(store_url):
    """Nulls, times in another zone, enumerations, text with quotes and braces (what an array
    literal would need escaped), and a batch of none."""
    columns = ("delivery_id", "attempted_at", "status_code", "duration_ms", "outcome", "reply")
    paris = timezone(timedelta(hours=1))
    rows = [
        {
            "delivery_id": 7,
            "attempted_at": datetime(2025, 1, 1, 12, tzinfo=paris),
            "status_code": None,
            "duration_ms": 0.5,
            "outcome": Outcome.FAILED,
            "reply": None,
        },
        {
            "delivery_id": 3,
            "attempted_at": datetime(2025, 1, 2, tzinfo=UTC),
            "status_code": 204,
            "duration_ms": 12.25,
            "outcome": Outcome.DELIVERED,
            "reply": 'a "quoted", {braced} \\ reply',
        },
    ]
    engine = open_engine(store_url)
    try:
        insert_rows = InsertRows(delivery_attempts, columns)
        with engine.begin() as connection:
            insert_rows(connection, [])
            insert_rows(connection, rows)
            stored = connection.execute(
                select(*(delivery_attempts.c[name] for name in columns)).order_by(
                    delivery_attempts.c.id
                )
            ).all()
        assert [dict(zip(columns, row, strict=True)) for row in stored] == [
            row | {"attempted_at": row["attempted_at"].astimezone(UTC)} for row in rows
        ]
        assert [row[1].tzinfo for row in stored] == [UTC, UTC]
    finally:
        engine.dispose()


def test_is_constant_refuses_what_it_could_not_write_in():
    for value in ("it's", "a\\b"):
        with pytest.raises(ValueError, match="not a constant"):
            is_constant(subscriptions.c.id, value)
