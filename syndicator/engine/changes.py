"""The item records a scan changes: what the store will remember of each item, compared with
what it remembers now.

Worked out here, where the catalog is, rather than by the stage that writes the rows (the
announcer, maybe in a child process): this process keeps the records for its next scan, and
getting them back from that child cost a tenth of a second at 10,000 documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from syndicator.catalog import LiveCatalog
from syndicator.store.records import ItemRecord

# An item's record before the scan (None: a new item), and after it.
Change = tuple[ItemRecord | None, ItemRecord]


def record_changes(
    keys: Iterable[str],
    prior: Mapping[str, ItemRecord],
    catalog: LiveCatalog,
    versions: Mapping[str, str],
) -> list[Change]:
    """The records among ``keys`` that differ from ``prior``, in the order of ``keys``.

    Their ``data`` (the webhook payload) is "", as in ``prior``: only the store keeps payloads.
    An item gone from the catalog keeps its last record, as ``removed``."""
    changes: list[Change] = []
    for key in keys:
        old = prior.get(key)
        item = catalog.items.get(key)
        if item is None:
            if old is not None and old.state != "removed":
                changes.append((old, replace(old, state="removed", data="")))
            continue
        entry = catalog.entries.get(key)
        new = ItemRecord(
            key,
            item.id,
            catalog.states.get(key, "removed"),
            entry.published if entry else item.date,
            entry.updated if entry else None,
            versions[key],
            "",
        )
        if old is None or _known(old) != _known(new):
            changes.append((old, new))
    return changes


def _known(record: ItemRecord) -> tuple[object, ...]:
    """What a record says of its item, but the payload."""
    return (record.item_id, record.state, record.published_at, record.updated_at, record.version)
