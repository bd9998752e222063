"""Upgrading a store from the webhook-only schema (0002) to the newest keeps the delivery log:
on SQLite the outbox table is rebuilt (0003), and the rebuild must not cascade to the
attempts; 0004 carries the metrics on from the attempts already logged."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from syndicator.push import counters, history
from syndicator.push.sender import Attempt, Outcome
from syndicator.store.database import (
    HEAD_REVISION,
    alembic_config,
    at_head,
    create_store_engine,
    migrate,
)
from syndicator.store.schema import metadata


def test_upgrade_keeps_deliveries_and_their_attempts(store_url):
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    at = {"at": datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)}
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO events (type, item_key, item_id, occurred_at, data)"
            " VALUES ('item.published', 'k', 'i', :at, '{}')",
            "INSERT INTO subscriptions VALUES"
            " ('sub_1', 'http://127.0.0.1:9/', 'whsec_x', '[]', '[]', '[]', '', true, null, null, :at)",
            "INSERT INTO deliveries (event_id, subscription_id, message_id, status, attempts,"
            " next_attempt_at, created_at) VALUES (1, 'sub_1', 'msg_1_sub_1', 'failed', 2, :at, :at)",
            "INSERT INTO delivery_attempts (delivery_id, attempted_at, status_code, duration_ms,"
            " error) VALUES (1, :at, 500, 1.5, 'HTTP 500'), (1, :at, 503, 2.5, 'HTTP 503')",
        ):
            connection.execute(text(statement), at)

    migrate(engine)

    with engine.connect() as connection:
        [delivery] = [asdict(d) for d in history.list_deliveries(connection)]
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        outcomes = connection.execute(text("SELECT outcome FROM delivery_attempts")).scalars()
        totals = counters.read(connection)
    assert version == "0009"
    # 0004 judged the old attempts and started the metrics counters from them.
    assert list(outcomes) == ["failed", "failed"]
    assert counters.attempts_by_outcome(totals)[Outcome.FAILED] == 2
    assert totals["latency:count"] == 2 and totals["latency:sum_ms"] == 4.0
    assert delivery["kind"] == "webhook" and delivery["webhook_id"] == "msg_1_sub_1"
    assert [a["status"] for a in delivery["log"]] == [500, 503]
    engine.dispose()


def test_the_migrations_build_the_schema_the_code_declares(store_url):
    engine = create_store_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def test_a_new_store_is_created_at_the_newest_revision_without_migrating(store_url):
    """An empty store is made from the declared schema: the same tables and indexes as the
    migrations build, stamped so that Alembic sees the newest revision, and its metrics
    counters (seeded by a migration on older stores) count from zero."""
    engine = create_store_engine(store_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == HEAD_REVISION
        assert counters.read(connection) == {}
    attempt = Attempt(204, 12.0, None)
    for shard in (3, 3, 4):
        with engine.begin() as connection:
            counters.add_attempts(connection, [attempt, attempt], shard)
    with engine.connect() as connection:
        totals = counters.read(connection)
    assert counters.attempts_by_outcome(totals)[Outcome.DELIVERED] == 6
    assert totals["latency:count"] == 6 and totals["latency:sum_ms"] == 72.0
    assert totals["latency:le:0.05"] == 6
    engine.dispose()


def test_the_head_revision_the_store_checks_is_alembics_own(store_url):
    """A store at ``HEAD_REVISION`` is opened without Alembic: it must be the newest
    migration, or a store one migration behind would never be upgraded."""
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
    engine = create_store_engine(store_url)
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    assert not at_head(engine)
    engine.dispose()
