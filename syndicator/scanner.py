"""One scan: the folder against the store, then the catalog, events and feeds that follow.

Used by ``syndicator build`` (one scan) and by the worker (a scan per change or tick). Only
files whose size, mtime or hash changed are parsed again; the store keeps the last good parse
of every document, so a file that becomes unreadable keeps its item in the feeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from stat import S_ISDIR, S_ISREG

import orjson
from sqlalchemy import Engine

from syndicator.build import Read, SiteRenderer, content_dirs, read_sources
from syndicator.catalog import Entry, LiveCatalog
from syndicator.config import Config
from syndicator.content.items import Item, Problem
from syndicator.content.scan import Source, scan
from syndicator.events import Event, ItemRecord, transitions, updated_times, version_of
from syndicator.feeds.context import SiteContext
from syndicator.feeds.jsonfeed import json_item
from syndicator.output.writer import WriteReport
from syndicator.progress import silent
from syndicator.push import outbox, websub
from syndicator.store import records
from syndicator.store.records import DocumentRecord

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScanResult:
    catalog: LiveCatalog
    events: list[Event]
    problems: list[Problem]
    report: WriteReport
    documents: int
    parsed: int
    event_ids: list[int] = field(default_factory=list)
    # WebSub deliveries queued because a feed a hub subscriber follows changed.
    distributions: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class _FirstSeen(Mapping[str, datetime]):
    """First-seen times read straight from the document records (no copy per scan)."""

    def __init__(self, documents: Mapping[str, DocumentRecord]) -> None:
        self._documents = documents

    def __getitem__(self, key: str) -> datetime:
        return self._documents[key].first_seen

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents)

    def __len__(self) -> int:
        return len(self._documents)


class _UpdatedTimes(Mapping[str, datetime]):
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


class Scanner:
    """Keeps the documents, item records, catalog and rendered entries of the last scan in
    memory (one scanner runs per store), so a scan costs what changed, not the site's size."""

    def __init__(self, config: Config, engine: Engine, *, keep_cache: bool = True) -> None:
        self.config = config
        self.engine = engine
        self.site = SiteContext.from_config(config)
        self.keep_cache = keep_cache
        # As given and as resolved: the watcher reports paths under the folder as given.
        self.roots = [
            (root, folder.resolve().name)
            for folder in content_dirs(config)
            for root in dict.fromkeys((os.path.abspath(folder), str(folder.resolve())))
        ]
        self._forget()

    def _forget(self) -> None:
        """Drop what the last scans left in memory; the next scan starts again from the store."""
        self.renderer = SiteRenderer(
            self.config, Path(self.config.output.dir), keep_cache=self.keep_cache
        )
        self.catalog = LiveCatalog()
        self._documents: dict[str, DocumentRecord] | None = None
        self._prior: dict[str, ItemRecord] = {}
        self._versions: dict[str, str] = {}
        self._baseline_done = False

    def _payload(self, entry: Entry) -> str:
        return orjson.dumps(json_item(entry, self.site, extension=True)).decode()

    def _load(self) -> dict[str, DocumentRecord]:
        with self.engine.connect() as connection:
            documents = records.load_documents(connection)
            self._prior = records.load_items(connection)
            self._baseline_done = records.get_setting(connection, records.BASELINE_DONE) is not None
        self._documents = documents
        return documents

    def scan(
        self, now: datetime, progress: ProgressFn = silent, *, paths: Iterable[str] | None = None
    ) -> ScanResult:
        """Compare the folder (or only ``paths``, as reported by the watcher) with the last
        scan, and carry every change through to the store, the events and the feeds.

        A scan that fails part-way (the store unreachable, a disk full) leaves the memory ahead
        of the store, so it is forgotten: the next scan reloads and redoes the difference.
        """
        try:
            return self._scan(now, progress, paths)
        except BaseException:
            self._forget()
            raise

    def _scan(self, now: datetime, progress: ProgressFn, paths: Iterable[str] | None) -> ScanResult:
        first = self._documents is None
        documents = self._load() if self._documents is None else self._documents
        found = self._sources_at(paths, documents) if paths is not None and not first else None
        if found is None:
            sources = scan(content_dirs(self.config))
            present = {s.key for s in sources}
            gone = [key for key in documents if key not in present]
        else:
            sources, gone = found
        changed = [
            s
            for s in sources
            if (old := documents.get(s.key)) is None
            or (old.size, old.mtime_ns) != (s.size, s.mtime_ns)
        ]
        known = {s.key: documents[s.key].sha256 for s in changed if s.key in documents}
        reads = read_sources(changed, self.config, known, progress)
        before = {
            r.source.key: documents[r.source.key].item for r in reads if r.source.key in documents
        }
        updates, dropped = _merge(documents, reads, now)
        removed = [*gone, *dropped]
        for key in gone:
            del documents[key]

        items: dict[str, Item | None] = (
            {k: r.item for k, r in documents.items() if r.item is not None}
            if first
            else {r.key: r.item for r in updates if r.item != before.get(r.key)}
        )
        items.update({key: None for key in removed})
        for key, item in items.items():
            if item is None:
                self._versions.pop(key, None)
            else:
                self._versions[key] = version_of(item)
        fresh = updated_times(
            self._prior, {k: self._versions[k] for k in items if k in self._versions}, now
        )
        delta = self.catalog.apply(
            items,
            now=now,
            first_seen=_FirstSeen(documents),
            updated_at=_UpdatedTimes(fresh, self._prior),
        )
        keys = sorted(
            (self._prior.keys() | self.catalog.states.keys())
            if first
            else (delta.keys | items.keys())
        )
        hidden = [k for k in keys if k in self._prior and k not in self.catalog.entries]
        with self.engine.connect() as connection:
            old_payloads = records.load_payloads(connection, hidden)
        announce = self._baseline_done or self.config.push.announce_existing
        changes = transitions(
            keys,
            self._prior,
            self.catalog,
            self._versions,
            self._payload,
            old_payloads,
            announce=announce,
        )
        # The store and the feeds are written at the same time: the feeds by worker processes,
        # the store by a thread of this one, which is otherwise idle while they work. Should
        # either fail, the scan fails and is forgotten, and the next one redoes both.
        with ThreadPoolExecutor(1, thread_name_prefix="store") as pool:
            recorded = pool.submit(self._record, updates, removed, changes, now)
            report = self.renderer.render(self.catalog, delta, progress)
            events, event_ids, saved = recorded.result()
        self._baseline_done = True
        self._prior.update((record.key, record) for record in saved)
        distributions = 0
        if self.config.hub_url:
            with self.engine.begin() as connection:
                distributions = websub.enqueue_distribution(
                    connection, Path(self.config.output.dir), now
                )
        problems = [p for rec in documents.values() for p in rec.problems] + self.catalog.problems
        return ScanResult(
            self.catalog,
            events,
            problems,
            report,
            documents=len(documents),
            parsed=sum(1 for r in reads if r.result is not None),
            event_ids=event_ids,
            distributions=distributions,
        )

    def _record(
        self,
        updates: Sequence[DocumentRecord],
        removed: Sequence[str],
        changes: Iterable[ItemRecord | Event],
        now: datetime,
    ) -> tuple[list[Event], list[int], list[ItemRecord]]:
        """Write the documents, item records and events of a scan, and fan the events out to
        the outbox, in one transaction; the events, their ids and the records saved (without
        their payloads, which only the store keeps)."""
        events: list[Event] = []
        saved: list[ItemRecord] = []

        def item_records() -> Iterator[ItemRecord]:
            for change in changes:
                if isinstance(change, Event):
                    events.append(change)
                else:
                    saved.append(replace(change, data=""))
                    yield change

        with self.engine.begin() as connection:
            records.save_documents(connection, updates, removed)
            records.save_items(connection, item_records())
            event_ids = records.append_events(connection, events, now)
            outbox.fan_out(connection, list(zip(event_ids, events, strict=True)), now)
            if not self._baseline_done:
                records.set_setting(connection, records.BASELINE_DONE, now.isoformat())
            records.set_setting(connection, records.LAST_SCAN, now.isoformat())
        return events, event_ids, saved

    def _sources_at(
        self, paths: Iterable[str], documents: Mapping[str, DocumentRecord]
    ) -> tuple[list[Source], list[str]] | None:
        """The sources at ``paths`` and the keys gone from them; None when only a full walk can
        tell (a folder was created, moved or deleted)."""
        sources: list[Source] = []
        gone: list[str] = []
        for path in paths:
            located = self._locate(path)
            if located is None:
                continue
            key, collection = located
            try:
                stat = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                if any(k.startswith(key + "/") for k in documents):
                    return None
                if key in documents:
                    gone.append(key)
                continue
            if S_ISDIR(stat.st_mode):
                return None
            if S_ISREG(stat.st_mode):
                sources.append(Source(path, key, collection, stat.st_size, stat.st_mtime_ns))
        return sources, gone

    def _locate(self, path: str) -> tuple[str, str] | None:
        """(key, collection) of a path under a content folder; None if outside or hidden."""
        path = os.path.abspath(path)
        for root, collection in self.roots:
            if path.startswith(root + os.sep):
                relative = path[len(root) + 1 :]
                if any(part.startswith(".") for part in relative.split(os.sep)):
                    return None
                return f"{collection}/{relative.replace(os.sep, '/')}", collection
        return None


def _merge(
    current: dict[str, DocumentRecord], reads: Sequence[Read], now: datetime
) -> tuple[list[DocumentRecord], list[str]]:
    """Update ``current`` in place; the records to write back, and files no longer documents."""
    updates: list[DocumentRecord] = []
    dropped: list[str] = []
    for read in reads:
        key = read.source.key
        old = current.get(key)
        stat = {"size": read.source.size, "mtime_ns": read.source.mtime_ns}
        if read.result is None and old is not None:
            record = replace(old, **stat)
        elif read.result is not None and read.result.is_document:
            result = read.result
            item = result.item if result.item is not None else (old.item if old else None)
            record = DocumentRecord(
                key,
                sha256=read.sha256,
                first_seen=old.first_seen if old else now,
                item=item,
                problems=result.problems,
                **stat,
            )
        else:
            if current.pop(key, None) is not None:
                dropped.append(key)
            continue
        current[key] = record
        updates.append(record)
    return updates, dropped
