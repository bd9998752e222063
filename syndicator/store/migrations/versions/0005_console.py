"""The operator console: its sessions, the start of each endpoint reply in the attempt log, and
the indexes its pages read by (a subscription's deliveries, deliveries by status, an item's
events).

Additive: a new table, a new nullable column and new indexes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("delivery_attempts", sa.Column("reply", sa.Text, nullable=True))
    op.create_index("ix_deliveries_subscription", "deliveries", ["subscription_id", "id"])
    op.create_index(
        "ix_deliveries_subscription_status", "deliveries", ["subscription_id", "status", "id"]
    )
    op.create_index("ix_deliveries_status", "deliveries", ["status", "id"])
    # Counting a period's deliveries by status reads this index alone; it serves retention's
    # walk by age as the one it replaces did.
    op.create_index("ix_deliveries_created_at_status", "deliveries", ["created_at", "status"])
    op.drop_index("ix_deliveries_created_at", "deliveries")
    op.create_index("ix_events_item_key", "events", ["item_key", "id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_expires_at", "console_sessions")
    op.drop_table("console_sessions")
    op.drop_index("ix_events_item_key", "events")
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.drop_index("ix_deliveries_created_at_status", "deliveries")
    op.drop_index("ix_deliveries_status", "deliveries")
    op.drop_index("ix_deliveries_subscription_status", "deliveries")
    op.drop_index("ix_deliveries_subscription", "deliveries")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("reply")
