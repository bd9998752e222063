"""When items were first seen and last updated: the catalog's inputs that the store remembers.

Views over the engine's records rather than copies, so a scan of one edited file never copies
a mapping the size of the site.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from syndicator.store.forms import DocumentRecord
from syndicator.store.records import ItemRecord


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


class FirstSeen(Mapping[str, datetime]):
    """First-seen times read straight from the document records (no copy per scan)."""

    def __init__(self, documents: Mapping[str, DocumentRecord]) -> None:
        self._documents = documents

    def __getitem__(self, key: str) -> datetime:
        return self._documents[key].first_seen

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents)

    def __len__(self) -> int:
        return len(self._documents)


class UpdatedTimes(Mapping[str, datetime]):
    """Updated times: this scan's new ones over what the store remembers."""

    def __init__(self, fresh: Mapping[str, datetime], prior: Mapping[str, ItemRecord]) -> None:
        self._fresh = fresh
        self._prior = prior

    def __getitem__(self, key: str) -> datetime:
        if key in self._fresh:
            return self._fresh[key]
        updated = self._prior[key].updated_at
        if updated is None:
            raise KeyError(key)
        return updated

    def __iter__(self) -> Iterator[str]:
        return iter(self._fresh.keys() | self._prior.keys())

    def __len__(self) -> int:
        return len(self._fresh.keys() | self._prior.keys())
