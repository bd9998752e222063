"""Retention and bounded reads: the attempt's outcome stored with it, metrics counters kept as
work happens, and the indexes pruning and paging walk.

Additive: new columns, a new table and new indexes. The counters start from the attempt log as
it stands (the last full read of it), so the metrics carry on from where they were.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Kept here as they were at this revision: a migration never follows later code.
_OUTCOME = (
    "CASE WHEN status_code BETWEEN 200 AND 299 THEN 'delivered' "
    "WHEN status_code = 410 THEN 'gone' ELSE 'failed' END"
)
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
_SHARDS = 8


def upgrade() -> None:
    op.add_column("delivery_attempts", sa.Column("outcome", sa.String(16), nullable=True))
    op.execute(f"UPDATE delivery_attempts SET outcome = {_OUTCOME}")
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_index("ix_deliveries_event", "deliveries", ["event_id"])
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    counters = op.create_table(
        "push_counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    bind = op.get_bind()
    totals = dict.fromkeys(_names(), 0.0)
    for outcome, count in bind.execute(
        sa.text("SELECT outcome, count(*) FROM delivery_attempts GROUP BY outcome")
    ):
        totals[f"attempts:{outcome}"] = float(count)
    row = bind.execute(
        sa.text(
            "SELECT count(*), coalesce(sum(duration_ms), 0)"
            + "".join(
                f", coalesce(sum(CASE WHEN duration_ms <= {b * 1000} THEN 1 ELSE 0 END), 0)"
                for b in _BUCKETS
            )
            + " FROM delivery_attempts"
        )
    ).one()
    totals["latency:count"], totals["latency:sum_ms"] = float(row[0]), float(row[1])
    for bound, within in zip(_BUCKETS, row[2:], strict=True):
        totals[f"latency:le:{bound}"] = float(within)
    op.bulk_insert(
        counters,
        [
            {"name": name, "shard": shard, "value": totals[name] if shard == 0 else 0.0}
            for name in totals
            for shard in range(_SHARDS)
        ],
    )


def _names() -> list[str]:
    return [
        *(f"attempts:{o}" for o in ("delivered", "gone", "failed")),
        "latency:count",
        "latency:sum_ms",
        *(f"latency:le:{b}" for b in _BUCKETS),
    ]


def downgrade() -> None:
    op.drop_table("push_counters")
    op.drop_index("ix_deliveries_created_at", "deliveries")
    op.drop_index("ix_deliveries_event", "deliveries")
    op.drop_index("ix_events_occurred_at", "events")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("outcome")
