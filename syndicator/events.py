"""Events stage: comparing what the store knew with the new catalog (DESIGN.md §7).

Pure: the transitions of every item between two scans, as new store records and events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import orjson

from syndicator.catalog import Entry, LiveCatalog
from syndicator.content.items import Item

EventType = Literal["item.published", "item.updated", "item.unpublished"]
EVENT_TYPES: tuple[EventType, ...] = ("item.published", "item.updated", "item.unpublished")


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
    type: EventType
    key: str
    item_id: str
    data: str


def version_of(item: Item) -> str:
    """Changes whenever anything a reader sees of the item changes."""
    return hashlib.sha256(orjson.dumps(item)).hexdigest()


def updated_times(
    prior: Mapping[str, ItemRecord], versions: Mapping[str, str], now: datetime
) -> dict[str, datetime]:
    """An item's updated time moves to ``now`` when its published text changed."""
    result: dict[str, datetime] = {}
    for key, version in versions.items():
        old = prior.get(key)
        if old is None:
            continue
        if old.state == "published" and old.version != version:
            result[key] = now
        elif old.updated_at is not None:
            result[key] = old.updated_at
    return result


def transitions(
    keys: Iterable[str],
    prior: Mapping[str, ItemRecord],
    catalog: LiveCatalog,
    versions: Mapping[str, str],
    payload_of: Callable[[Entry], str],
    old_payloads: Mapping[str, str],
    *,
    announce: bool,
) -> Iterator[ItemRecord | Event]:
    """The records that changed among ``keys``, and the events to announce, as found.

    A generator, so that a first scan of a large folder never holds every record at once.
    ``payload_of`` renders an entry's webhook ``data``; it is called only for records that
    changed. ``old_payloads`` holds the stored payload of every item among ``keys`` that is not
    visible now (what an ``item.unpublished`` event carries). ``announce`` is False for the
    baseline scan: states are recorded, nothing is announced.
    """
    for key in keys:
        old = prior.get(key)
        state = catalog.states.get(key, "removed")
        was_published = old is not None and old.state == "published"
        item = catalog.items.get(key)
        if item is None:
            if old is None or old.state == "removed":
                continue
            last = old_payloads.get(key, "{}")
            if was_published and announce:
                yield Event("item.unpublished", key, old.item_id, last)
            yield replace(old, state="removed", data=last)
            continue
        entry = catalog.entries.get(key)
        published = entry.published if entry else item.date
        updated = entry.updated if entry else None
        version = versions[key]
        now_known = (item.id, state, published, updated, version)
        if (
            old is not None
            and (old.item_id, old.state, old.published_at, old.updated_at, old.version) == now_known
        ):
            continue
        payload = payload_of(entry) if entry else old_payloads.get(key, "{}")
        if announce:
            if state == "published" and not was_published:
                yield Event("item.published", key, item.id, payload)
            elif state == "published" and old is not None and old.version != version:
                yield Event("item.updated", key, item.id, payload)
            elif was_published and state != "published" and old is not None:
                yield Event("item.unpublished", key, old.item_id, payload)
        yield ItemRecord(key, item.id, state, published, updated, version, payload)
