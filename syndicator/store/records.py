"""Reading and writing the store's rows; every scan's changes land in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from syndicator.content.items import Problem
from syndicator.store.forms import DocumentRecord, decode_item, encode_item, version_of
from syndicator.store.schema import documents, events, items, settings

T = TypeVar("T")
CHUNK = 1000
BASELINE_DONE = "baseline_done"
LAST_SCAN = "last_scan"
# The digest of the settings the stored items were read under (``items.reading_settings``).
READING_SETTINGS = "reading_settings"


EventType = Literal["item.published", "item.updated", "item.unpublished"]
EVENT_TYPES: tuple[EventType, ...] = ("item.published", "item.updated", "item.unpublished")
"""What a subscription may choose; ``TEST_EVENT`` goes only to the one an operator tests."""
TEST_EVENT: Literal["webhook.test"] = "webhook.test"


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """What the store remembers of an item between scans."""

    key: str
    item_id: str
    state: str
    published_at: datetime | None
    updated_at: datetime | None
    version: str
    data: str


@dataclass(frozen=True, slots=True)
class Event:
    """An event found by a scan, before the store gives it an id (then a ``StoredEvent``).
    ``categories`` and ``tags`` are the slugs in ``data``'s ``_syndicator``, kept apart so
    that the fan-out matches subscriptions without reading ``data`` back."""

    type: EventType | Literal["webhook.test"]
    key: str
    item_id: str
    data: str
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    type: str
    item_key: str
    item_id: str
    occurred_at: datetime
    data: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "item_key": self.item_key,
            "item_id": self.item_id,
            "occurred_at": self.occurred_at.isoformat(),
            "data": json.loads(self.data),
        }


def _encode_problems(problems: Sequence[Problem]) -> str:
    if not problems:
        return "[]"  # what json.dumps gives, for most documents, without its encoder's cost
    return json.dumps([[p.path, p.line, p.message, p.severity] for p in problems])


def _decode_problems(text: str) -> tuple[Problem, ...]:
    return tuple(
        Problem(path, line, message, severity) for path, line, message, severity in json.loads(text)
    )


def load_documents(connection: Connection) -> dict[str, DocumentRecord]:
    rows = connection.execute(select(documents)).all()
    return {
        row.key: DocumentRecord(
            row.key,
            row.size,
            row.mtime_ns,
            row.sha256,
            row.first_seen,
            decode_item(row.item) if row.item is not None else None,
            _decode_problems(row.problems),
            version_of(row.item) if row.item is not None else "",
        )
        for row in rows
    }


def load_items(connection: Connection) -> dict[str, ItemRecord]:
    """Every item's record without its JSON payload (``data`` is ""), which a large site could
    not keep in memory; ``load_payloads`` fetches the few a scan needs."""
    columns = [c for c in items.c if c.name != "data"]
    return {
        row.key: ItemRecord(
            row.key, row.item_id, row.state, row.published_at, row.updated_at, row.version, ""
        )
        for row in connection.execute(select(*columns))
    }


def load_payloads(connection: Connection, keys: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in batched(keys, CHUNK):
        query = select(items.c.key, items.c.data).where(items.c.key.in_(chunk))
        found.update((row.key, row.data) for row in connection.execute(query))
    return found


def _replace_rows(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Delete then insert, ``CHUNK`` rows at a time: an upsert both databases run alike, that
    never holds a large folder's rows in memory at once."""
    # An empty table (a first scan) has no rows to delete: the deletes were nearly a third of
    # writing a first scan's 5,000 documents.
    empty = connection.execute(select(table.c.key).limit(1)).first() is None
    for chunk in batched(rows, CHUNK):
        if not empty:
            keys = [row["key"] for row in chunk]
            connection.execute(delete(table).where(table.c.key.in_(keys)))
        connection.execute(insert(table), list(chunk))


def save_documents(
    connection: Connection, changed: Sequence[DocumentRecord], removed: Iterable[str]
) -> None:
    for chunk in batched(removed, CHUNK):
        connection.execute(delete(documents).where(documents.c.key.in_(chunk)))
    rows = (
        {
            "key": r.key,
            "size": r.size,
            "mtime_ns": r.mtime_ns,
            "sha256": r.sha256,
            "first_seen": r.first_seen,
            "item": encode_item(r.item) if r.item is not None else None,
            "problems": _encode_problems(r.problems),
        }
        for r in changed
    )
    _replace_rows(connection, documents, rows)


def save_items(connection: Connection, records: Iterable[ItemRecord]) -> None:
    # Not dataclasses.asdict: it deep-copies every value, a second per 10,000 records.
    names = [f.name for f in fields(ItemRecord)]
    _replace_rows(connection, items, ({n: getattr(r, n) for n in names} for r in records))


def append_events(connection: Connection, new: Sequence[Event], occurred_at: datetime) -> list[int]:
    """Insert events in order; their ids (the outbox's keys) are returned."""
    ids: list[int] = []
    for event in new:
        result = connection.execute(
            insert(events).values(
                type=event.type,
                item_key=event.key,
                item_id=event.item_id,
                occurred_at=occurred_at,
                data=event.data,
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        ids.append(int(key[0]))
    return ids


def list_events(
    connection: Connection, *, after: int = 0, limit: int | None = None
) -> list[StoredEvent]:
    """Oldest first, from ``after`` on (for whoever follows the log)."""
    query = select(events).where(events.c.id > after).order_by(events.c.id)
    if limit is not None:
        query = query.limit(limit)
    return _stored(connection, query)


def recent_events(
    connection: Connection, *, limit: int, before: int | None = None
) -> list[StoredEvent]:
    """A page of the log, newest first: ``limit`` events with an id below ``before`` (the
    last id of the previous page), so events added meanwhile never shift a page."""
    query = select(events).order_by(events.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(events.c.id < before)
    return _stored(connection, query)


def _stored(connection: Connection, query: Any) -> list[StoredEvent]:
    return [
        StoredEvent(row.id, row.type, row.item_key, row.item_id, row.occurred_at, row.data)
        for row in connection.execute(query)
    ]


def list_items(
    connection: Connection, *, state: str | None, limit: int, offset: int
) -> list[ItemRecord]:
    """Items newest first (by publication), with their last announced JSON Feed item."""
    query = (
        select(items)
        .order_by(items.c.published_at.desc().nulls_last(), items.c.key)
        .limit(limit)
        .offset(offset)
    )
    if state is not None:
        query = query.where(items.c.state == state)
    return [
        ItemRecord(
            row.key, row.item_id, row.state, row.published_at, row.updated_at, row.version, row.data
        )
        for row in connection.execute(query)
    ]


def item_events(
    connection: Connection, key: str, *, limit: int, before: int | None = None
) -> list[StoredEvent]:
    """A page of one item's events, newest first (``before`` as in ``recent_events``)."""
    query = select(events).where(events.c.item_key == key).order_by(events.c.id.desc())
    if before is not None:
        query = query.where(events.c.id < before)
    return _stored(connection, query.limit(limit))


def get_item(connection: Connection, key: str) -> ItemRecord | None:
    row = connection.execute(select(items).where(items.c.key == key)).first()
    if row is None:
        return None
    return ItemRecord(
        row.key, row.item_id, row.state, row.published_at, row.updated_at, row.version, row.data
    )


def published_payloads(connection: Connection) -> Iterator[tuple[str, datetime | None]]:
    """The last announced JSON Feed item and update time of each published item."""
    query = select(items.c.data, items.c.updated_at).where(items.c.state == "published")
    for row in connection.execute(query):
        yield row.data, row.updated_at


def count_items(connection: Connection) -> dict[str, int]:
    """How many items are in each state."""
    return dict(
        (state, count)
        for state, count in connection.execute(
            select(items.c.state, func.count()).group_by(items.c.state)
        )
    )


def get_setting(connection: Connection, name: str) -> str | None:
    return connection.execute(select(settings.c.value).where(settings.c.name == name)).scalar()


def set_setting(connection: Connection, name: str, value: str) -> None:
    updated = connection.execute(
        update(settings).where(settings.c.name == name).values(value=value)
    ).rowcount
    if not updated:
        connection.execute(insert(settings).values(name=name, value=value))


def batched(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """``itertools.batched`` of Python 3.12, for 3.11."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
