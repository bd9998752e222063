"""The attempt log (``delivery_attempts``): a row per attempt made, written as attempts are
settled (``syndicator.push.queue``) and deleted with its delivery.

The log has no foreign key to its delivery. Checking one took a share lock on the delivery row
for every attempt logged, a WAL record each, and ran a trigger per row: some 8 µs of
PostgreSQL's CPU per delivery in ``bench/rounds.py``, of about 65. What the key kept true is
kept by the two functions here instead: an attempt is logged only while its delivery's row is
locked by the transaction that logs it (``record``), and a delivery's attempts are deleted only
once its row is locked by the transaction that deletes it (``forget``), so whichever commits
second sees what the first did. An attempt is never left without its delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, select

from syndicator.store.schema import deliveries, delivery_attempts
from syndicator.store.sql import InsertRows, OneOf

_INSERT = InsertRows(
    delivery_attempts,
    ("delivery_id", "attempted_at", "status_code", "duration_ms", "error", "outcome", "reply"),
)
# A share lock: a deletion waits for it, another deliverer's settlement does not.
_STILL_THERE = (
    select(deliveries.c.id).where(OneOf(deliveries.c.id, "ids")).with_for_update(key_share=True)
)


def record(connection: Connection, rows: Sequence[Mapping[str, Any]], held: Set[int]) -> None:
    """Log ``rows``, those whose delivery still exists. ``held`` are deliveries this
    transaction has just updated, so locked already; the others (failed attempts, settled by an
    executemany that says not which rows it changed, and deliveries taken over by another
    deliverer after a lease ran out) are locked here."""
    rest = sorted({row["delivery_id"] for row in rows} - held)
    if rest:
        held = held | set(connection.execute(_STILL_THERE, {"ids": rest}).scalars())
    _INSERT(connection, [row for row in rows if row["delivery_id"] in held])


def forget(connection: Connection, which: ColumnElement[bool]) -> int:
    """Delete the attempts of the deliveries ``which`` selects, which the caller then deletes
    in the same transaction (itself, or by cascade from their endpoint); returns how many.

    The deliveries are locked first, in a statement of their own: a settlement logging
    attempts for one of them has committed by then, and the delete, a later statement, sees
    its rows."""
    connection.execute(
        select(deliveries.c.id).where(which).order_by(deliveries.c.id).with_for_update()
    ).close()
    chosen = select(deliveries.c.id).where(which)
    return connection.execute(
        delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(chosen))
    ).rowcount
