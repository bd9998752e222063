"""Announce stage: comparing what the store knew with the new catalog (docs/contracts/push.md).

Pure: the transitions of every item between two scans, as new store records and events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

import orjson

from syndicator.catalog import Entry, LiveCatalog
from syndicator.engine.changes import Change
from syndicator.feeds.jsonfeed import filter_slugs
from syndicator.store.records import Event, EventType, ItemRecord


def transitions(
    changes: Iterable[Change],
    catalog: LiveCatalog,
    payload_of: Callable[[Entry], str],
    old_payloads: Mapping[str, str],
    *,
    announce: bool,
) -> Iterator[ItemRecord | Event]:
    """The records of ``changes`` with their payloads, and the events to announce, as found.

    A generator, so that a first scan of a large folder never holds every payload at once.
    ``payload_of`` renders an entry's webhook ``data``. ``old_payloads`` holds the stored
    payload of every changed item that is not visible now (what an ``item.unpublished`` event
    carries). ``announce`` is False for the baseline scan: states are recorded, nothing is
    announced.
    """
    for old, new in changes:
        key = new.key
        was_published = old is not None and old.state == "published"
        if key not in catalog.items:
            last = old_payloads.get(key, "{}")
            if was_published and announce:
                yield _event("item.unpublished", key, new.item_id, last, None)
            yield replace(new, data=last)
            continue
        entry = catalog.entries.get(key)
        payload = payload_of(entry) if entry else old_payloads.get(key, "{}")
        if announce:
            state = new.state
            if state == "published" and not was_published:
                yield _event("item.published", key, new.item_id, payload, entry)
            elif state == "published" and old is not None and old.version != new.version:
                yield _event("item.updated", key, new.item_id, payload, entry)
            elif was_published and state != "published" and old is not None:
                yield _event("item.unpublished", key, old.item_id, payload, entry)
        yield replace(new, data=payload)


def _event(kind: EventType, key: str, item_id: str, payload: str, entry: Entry | None) -> Event:
    """An event with the slugs its payload carries: the entry's, or those of the stored
    payload it repeats (an item no longer visible)."""
    if entry is not None:
        categories, tags = filter_slugs(entry.item)
    else:
        extension = orjson.loads(payload).get("_syndicator", {})
        categories, tags = tuple(extension.get("categories", ())), tuple(extension.get("tags", ()))
    return Event(kind, key, item_id, payload, categories, tags)
