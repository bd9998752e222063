"""PostgreSQL's partial indexes of the deliveries: the due index holds the unsettled rows and
the WebSub one the WebSub deliveries (0008), the index of a subscription's deliveries by status
all but the delivered ones (0009); the claim's statements are planned on the due index even by
a plan the server keeps for any parameters (a generic plan), since their text names the status.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from syndicator.push import queue
from syndicator.push.status import UNSETTLED, DeliveryStatus
from syndicator.store.database import open_engine
from syndicator.store.schema import DELIVERED, UNSETTLED_WHERE

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_due_index_condition_is_the_unsettled_statuses():
    listed = ", ".join(f"'{status}'" for status in UNSETTLED)
    assert f"status IN ({listed})" == UNSETTLED_WHERE
    assert DeliveryStatus.DELIVERED == DELIVERED


def test_the_claim_reads_the_due_index_in_a_generic_plan(postgres_url):
    engine = open_engine(postgres_url)
    dialect = postgresql.psycopg.dialect(paramstyle="numeric_dollar")
    try:
        with engine.connect() as connection:
            connection.execute(text("SET plan_cache_mode = force_generic_plan"))
            # Without statistics a seq scan of an empty table looks as cheap as the index.
            connection.execute(text("SET enable_seqscan = off"))
            plans = []
            for n, statement in enumerate((queue._LAPSED, queue._PENDING)):
                compiled = statement.compile(dialect=dialect)
                assert compiled.positiontup == ["now", "window"]
                connection.exec_driver_sql(f"PREPARE due_{n} AS {compiled}")
                plans.append(
                    "\n".join(
                        connection.exec_driver_sql(
                            f"EXPLAIN EXECUTE due_{n}('{NOW.isoformat()}', 100)"
                        ).scalars()
                    )
                )
            conditions = dict(
                connection.execute(
                    text(
                        "SELECT indexname, pg_get_expr(indpred, indrelid) FROM pg_indexes"
                        " JOIN pg_index ON indexrelid = (quote_ident(indexname))::regclass"
                        " WHERE tablename = 'deliveries' AND indpred IS NOT NULL"
                    )
                ).all()
            )
        for plan in plans:
            assert "Index Scan using ix_deliveries_due on deliveries" in plan, plan
        assert conditions == {
            "ix_deliveries_due": "((status)::text = ANY ((ARRAY['pending'::character varying,"
            " 'delivering'::character varying])::text[]))",
            "ix_deliveries_websub_subscription": "(websub_subscription_id IS NOT NULL)",
            "ix_deliveries_subscription_status": "((status)::text <> 'delivered'::text)",
        }
    finally:
        engine.dispose()
