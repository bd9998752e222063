"""On PostgreSQL, the due index holds the unsettled deliveries only, and the WebSub
subscription index the WebSub deliveries only.

A claim and a settlement each rewrite a delivery row, and PostgreSQL then writes an entry for
it in every index of the table (nine); a partial index whose condition the new row fails is
skipped. So a delivery settled as delivered is no longer added to the due index, and a webhook
delivery (no WebSub subscription) to the WebSub one: 3 of the 18 index entries a delivery
cost (bench/rounds.py). The queries of both indexes name what the condition holds: the claim
a status written into the statement, the lookups by WebSub subscription an equality. SQLite
keeps whole indexes: its planner matches a partial index's condition to a query's terms
less often.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNSETTLED = "status IN ('pending', 'delivering')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(sa.text(_UNSETTLED), sa.text("websub_subscription_id IS NOT NULL"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace(None, None)


def _replace(due: sa.TextClause | None, websub: sa.TextClause | None) -> None:
    op.drop_index("ix_deliveries_due", "deliveries")
    op.create_index(
        "ix_deliveries_due", "deliveries", ["status", "next_attempt_at"], postgresql_where=due
    )
    op.drop_index("ix_deliveries_websub_subscription", "deliveries")
    op.create_index(
        "ix_deliveries_websub_subscription",
        "deliveries",
        ["websub_subscription_id"],
        postgresql_where=websub,
    )
