"""Announce stage: comparing what the store knew with the new catalog (docs/contracts/push.md).

Pure: the transitions of every item between two scans, as new store records and events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

import orjson

from syndicator.catalog import Entry, LiveCatalog
from syndicator.feeds.jsonfeed import filter_slugs
from syndicator.store.records import Event, EventType, ItemRecord


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
                yield _event("item.unpublished", key, old.item_id, last, None)
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
                yield _event("item.published", key, item.id, payload, entry)
            elif state == "published" and old is not None and old.version != version:
                yield _event("item.updated", key, item.id, payload, entry)
            elif was_published and state != "published" and old is not None:
                yield _event("item.unpublished", key, old.item_id, payload, entry)
        yield ItemRecord(key, item.id, state, published, updated, version, payload)


def _event(kind: EventType, key: str, item_id: str, payload: str, entry: Entry | None) -> Event:
    """An event with the slugs its payload carries: the entry's, or those of the stored
    payload it repeats (an item no longer visible)."""
    if entry is not None:
        categories, tags = filter_slugs(entry.item)
    else:
        extension = orjson.loads(payload).get("_syndicator", {})
        categories, tags = tuple(extension.get("categories", ())), tuple(extension.get("tags", ()))
    return Event(kind, key, item_id, payload, categories, tags)
