"""The attempt log loses its foreign key to the deliveries (``syndicator.push.attempts`` keeps
the rule instead): checking it locked the delivery row once per attempt logged, some 8 µs of
PostgreSQL's CPU per delivery of about 65 (bench/rounds.py).

On SQLite the table is rebuilt without the key; nothing refers to it, so nothing cascades.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite's key has no name: the batch names what it reflects by this convention.
_NAMING = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
_KEY = "delivery_attempts_delivery_id_fkey"


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts", naming_convention=_NAMING) as batch:
        batch.drop_constraint(_KEY, type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM delivery_attempts WHERE delivery_id NOT IN (SELECT id FROM deliveries)")
    with op.batch_alter_table("delivery_attempts", naming_convention=_NAMING) as batch:
        batch.create_foreign_key(_KEY, "deliveries", ["delivery_id"], ["id"], ondelete="CASCADE")
