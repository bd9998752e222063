"""The feeds as the console lists them: each with its display name, its number of published
items and its files in the output folder.

The catalog itself lives in the scanner; the web process rebuilds what it needs from the items
the store last announced (their ``_syndicator`` slugs and display ``tags``), once per scan: the
result is kept until the store records another scan.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

import orjson
from sqlalchemy import Connection

from syndicator.content.slugs import name_slug
from syndicator.push.websub import Topics
from syndicator.store import records
from syndicator.vocabulary import FEED_KIND_FOLDERS

SITE = ("site", "")


@dataclass(frozen=True, slots=True)
class Feed:
    kind: str
    slug: str
    name: str
    folder: str
    count: int
    updated: datetime | None
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Tally:
    counts: Counter[tuple[str, str]]
    names: dict[tuple[str, str], str]
    updated: dict[tuple[str, str], datetime]


class FeedCatalog:
    def __init__(self, topics: Topics, site_title: str) -> None:
        self.topics = topics
        self.site_title = site_title
        self._kept: tuple[object, _Tally] | None = None
        self._lock = threading.Lock()

    def feeds(self, connection: Connection) -> list[Feed]:
        """Every feed with a file in the output folder: the site's first, then by kind and
        name."""
        tally = self._tally(connection)
        folders: dict[str, list[str]] = {}
        for path in self.topics.published():
            parent = PurePosixPath(path).parent.as_posix()
            folders.setdefault("" if parent == "." else parent, []).append(path)
        found = []
        for folder, paths in folders.items():
            key = self._key(folder)
            if key is None:
                continue
            found.append(
                Feed(
                    key[0],
                    key[1],
                    self.site_title if key == SITE else tally.names.get(key, key[1]),
                    folder,
                    tally.counts[key],
                    tally.updated.get(key),
                    tuple(sorted(paths)),
                )
            )
        return sorted(found, key=lambda f: (f.kind != "site", f.kind, f.name.casefold()))

    def choices(self, connection: Connection, kind: str) -> list[tuple[str, str]]:
        """(slug, display name) of every category or tag with published items, by name."""
        tally = self._tally(connection)
        return sorted(
            ((slug, tally.names.get((k, slug), slug)) for k, slug in tally.counts if k == kind),
            key=lambda choice: choice[1].casefold(),
        )

    def _key(self, folder: str) -> tuple[str, str] | None:
        if not folder:
            return SITE
        parts = folder.split("/")
        for kind, name in FEED_KIND_FOLDERS.items():
            if len(parts) == 2 and parts[0] == name:
                return (kind, parts[1])
        return None

    def _tally(self, connection: Connection) -> _Tally:
        version = (
            records.get_setting(connection, records.LAST_SCAN),
            records.count_items(connection),
        )
        with self._lock:
            if self._kept is not None and self._kept[0] == version:
                return self._kept[1]
        tally = _Tally(Counter(), {}, {})
        for data, updated in records.published_payloads(connection):
            item = orjson.loads(data)
            names = {name_slug(name): name for name in item.get("tags", [])}
            extension = item.get("_syndicator", {})
            keys = [SITE]
            keys += [("category", slug) for slug in extension.get("categories", [])]
            keys += [("tag", slug) for slug in extension.get("tags", [])]
            for key in keys:
                tally.counts[key] += 1
                tally.names.setdefault(key, names.get(key[1], key[1]))
                if updated is not None and (
                    key not in tally.updated or updated > tally.updated[key]
                ):
                    tally.updated[key] = updated
        with self._lock:
            self._kept = (version, tally)
        return tally
