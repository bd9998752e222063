"""Totals of the delivery metrics, kept as attempts are settled.

A scrape reads a few dozen counter rows instead of aggregating the attempt log, which grows
with all traffic (and which retention prunes, so totals read from it would go backwards).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite

from syndicator.push.sender import Attempt, Outcome
from syndicator.store.schema import push_counters

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
"""Seconds; the default push timeout (15 s) bounds nearly every attempt."""
SHARDS = 8
"""Counter rows per name; each deliverer adds to one of them."""


def _add(dialect: str) -> Insert:
    """Adding to a counter row, made by the first addition: a store created from the schema
    (not migrated) starts with no rows, and a missing counter reads as 0."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(push_counters)
    return statement.on_conflict_do_update(
        index_elements=[push_counters.c.name, push_counters.c.shard],
        set_={"value": push_counters.c.value + statement.excluded.value},
    )


_ADD = {dialect: _add(dialect) for dialect in ("postgresql", "sqlite")}


def add_attempts(connection: Connection, attempts: Sequence[Attempt], shard: int) -> None:
    """Count attempts by outcome, and their durations into the latency histogram."""
    if not attempts:
        return
    totals: Counter[str] = Counter(f"attempts:{attempt.outcome}" for attempt in attempts)
    # Counted in the first bucket each fits, then summed upwards: Prometheus buckets are
    # cumulative.
    first = Counter(bisect_left(LATENCY_BUCKETS, a.duration_ms / 1000) for a in attempts)
    within = 0
    for index, bound in enumerate(LATENCY_BUCKETS):
        within += first[index]
        if within:
            totals[f"latency:le:{bound}"] = within
    totals["latency:count"] = len(attempts)
    sum_ms = sum(attempt.duration_ms for attempt in attempts)
    rows = [{"name": n, "shard": shard % SHARDS, "value": float(v)} for n, v in totals.items()]
    rows.append({"name": "latency:sum_ms", "shard": shard % SHARDS, "value": sum_ms})
    statement = _ADD[connection.dialect.name]
    connection.execute(statement, sorted(rows, key=lambda row: str(row["name"])))


def read(connection: Connection) -> dict[str, float]:
    """Every counter's total over the shards."""
    return dict(
        (name, value)
        for name, value in connection.execute(
            select(push_counters.c.name, func.sum(push_counters.c.value)).group_by(
                push_counters.c.name
            )
        ).all()
    )


def attempts_by_outcome(totals: dict[str, float]) -> dict[Outcome, int]:
    return {outcome: int(totals.get(f"attempts:{outcome}", 0)) for outcome in Outcome}
