"""The forms the store keeps documents and items in, as plain values.

Apart from the database layer: the reading workers make each item's stored form (its version)
and may start before SQLAlchemy is even imported, a third of a cold build's imports
(``engine.reading.ReadAhead``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter

import orjson

from syndicator.content.items import Item, Problem, unshared


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    key: str
    size: int
    mtime_ns: int
    sha256: str
    first_seen: datetime
    item: Item | None
    problems: tuple[Problem, ...]
    # ``item_version(item)``, "" without an item.
    version: str


_ITEM_FIELDS = [field.name for field in fields(Item)]
_item_values = attrgetter(*_ITEM_FIELDS)


def encode_item(item: Item) -> bytes:
    """The item's stored form: the JSON object of its fields, in order, as orjson writes a
    dataclass. Its strings are copied first (``unshared``): ``save_documents`` encodes every
    item in the process that holds them all."""
    values = (unshared(v) if isinstance(v, str) else v for v in _item_values(item))
    return orjson.dumps(dict(zip(_ITEM_FIELDS, values, strict=True)))


def item_version(item: Item) -> str:
    """Changes whenever anything a reader sees of the item changes: the digest of its stored
    form, so an item loaded from the store has its version without being encoded again.

    Computed where the item is made (the reading workers, on every core) or from the stored
    bytes on load, so the process that holds every item never encodes them all a second time
    for it."""
    return version_of(encode_item(item))


def version_of(encoded: bytes) -> str:
    """The version of the item stored as ``encoded``."""
    return hashlib.sha256(encoded).hexdigest()


def decode_item(data: bytes) -> Item:
    values = orjson.loads(data)
    if values["date"] is not None:
        values["date"] = datetime.fromisoformat(values["date"])
    for name in ("categories", "tags"):
        values[name] = tuple(values[name])
    return Item(**values)
