"""WebSub: subscribers, requests awaiting verification, and content distribution in the outbox.

A WebSub distribution is a delivery like a webhook's (same claim, retries and attempt log), so
``deliveries`` gains ``websub_subscription_id`` and its webhook columns become optional; a
check keeps exactly one endpoint per row.

SQLite cannot relax NOT NULL in place: the batch below rebuilds ``deliveries``, and dropping the
old table fires ``ON DELETE CASCADE`` on ``delivery_attempts`` (the store runs with foreign keys
on, and the pragma cannot change inside the migration's transaction). The attempt log is set
aside first and put back once the rebuilt table holds the same ids.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ATTEMPTS_ASIDE = "_delivery_attempts_0003"


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("callback", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("lease_seconds", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_websub_subscriptions_path", "websub_subscriptions", ["path"])
    op.create_table(
        "websub_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    with _keeping_attempts(), op.batch_alter_table("deliveries") as batch:
        batch.alter_column("event_id", existing_type=sa.Integer, nullable=True)
        batch.alter_column("subscription_id", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("websub_subscription_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_websub_subscription",
            "websub_subscriptions",
            ["websub_subscription_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_check_constraint(
            "ck_deliveries_one_endpoint",
            "(subscription_id IS NULL) <> (websub_subscription_id IS NULL)",
        )
    op.create_index("ix_deliveries_websub_subscription", "deliveries", ["websub_subscription_id"])


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE websub_subscription_id IS NOT NULL")
    op.drop_index("ix_deliveries_websub_subscription", "deliveries")
    with _keeping_attempts(), op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("ck_deliveries_one_endpoint", type_="check")
        batch.drop_constraint("fk_deliveries_websub_subscription", type_="foreignkey")
        batch.drop_column("websub_subscription_id")
        batch.alter_column("event_id", existing_type=sa.Integer, nullable=False)
        batch.alter_column("subscription_id", existing_type=sa.String(40), nullable=False)
    op.drop_table("websub_requests")
    op.drop_table("websub_subscriptions")


@contextmanager
def _keeping_attempts() -> Iterator[None]:
    """Around a rebuild of ``deliveries``: the attempt log as it was before, on SQLite."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    op.execute(f"CREATE TABLE {_ATTEMPTS_ASIDE} AS SELECT * FROM delivery_attempts")
    yield
    op.execute("DELETE FROM delivery_attempts")
    op.execute(f"INSERT INTO delivery_attempts SELECT * FROM {_ATTEMPTS_ASIDE}")
    op.execute(f"DROP TABLE {_ATTEMPTS_ASIDE}")
