"""One scan: the folder against the store, then the catalog, events and feeds that follow.

Used by ``syndicator build`` (one scan) and by the worker (a scan per change or tick). Only
files whose size, mtime or hash changed are parsed again; the store keeps the last good parse
of every document, so a file that becomes unreadable keeps its item in the feeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy import Engine

from syndicator.build import SiteRenderer, content_dirs
from syndicator.catalog import Catalog, Entry, build_catalog
from syndicator.config import Config
from syndicator.content.items import Problem, ReadResult, parse_source
from syndicator.content.scan import Source, scan
from syndicator.events import Event, ItemRecord, transitions, updated_times, version_of
from syndicator.feeds.context import SiteContext
from syndicator.feeds.jsonfeed import json_item
from syndicator.output.writer import WriteReport
from syndicator.parallel import map_chunks, shared
from syndicator.progress import silent
from syndicator.push import outbox
from syndicator.store import records
from syndicator.store.records import DocumentRecord

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScanResult:
    catalog: Catalog
    events: list[Event]
    problems: list[Problem]
    report: WriteReport
    documents: int
    parsed: int
    event_ids: list[int] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


@dataclass(frozen=True, slots=True)
class _Read:
    """A changed file after reading: same text as stored (``result`` None) or re-parsed."""

    source: Source
    sha256: str
    result: ReadResult | None


def _read_changed(sources: Sequence[Source]) -> list[_Read]:
    config, known = shared()
    done: list[_Read] = []
    for source in sources:
        try:
            data: bytes | OSError = source.path.read_bytes()
        except OSError as exc:
            data = exc
        digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else ""
        if digest and known.get(source.key) == digest:
            done.append(_Read(source, digest, None))
        else:
            done.append(_Read(source, digest, parse_source(source, data, config)))
    return done


class Scanner:
    """Holds the renderer's caches between scans, so a worker re-renders only what changed."""

    def __init__(self, config: Config, engine: Engine, *, keep_cache: bool = True) -> None:
        self.config = config
        self.engine = engine
        self.site = SiteContext.from_config(config)
        self.renderer = SiteRenderer(config, Path(config.output.dir), keep_cache=keep_cache)

    def _payload(self, entry: Entry) -> str:
        return orjson.dumps(json_item(entry, self.site, extension=True)).decode()

    def scan(self, now: datetime, progress: ProgressFn = silent) -> ScanResult:
        sources = scan(content_dirs(self.config))
        with self.engine.connect() as connection:
            stored = records.load_documents(connection)
            prior = records.load_items(connection)
            baseline_done = records.get_setting(connection, records.BASELINE_DONE) is not None

        changed = [
            s
            for s in sources
            if (old := stored.get(s.key)) is None
            or (old.size, old.mtime_ns) != (s.size, s.mtime_ns)
        ]
        known = {key: record.sha256 for key, record in stored.items()}
        reads = map_chunks(
            _read_changed,
            changed,
            shared=(self.config, known),
            progress=lambda done, total: progress("reading", done, total),
        )
        present = {s.key for s in sources}
        current, updates, dropped = _merge(
            {k: v for k, v in stored.items() if k in present}, reads, now
        )
        removed = [key for key in stored if key not in present or key in dropped]

        items = {key: rec.item for key, rec in sorted(current.items()) if rec.item is not None}
        versions = {key: version_of(item) for key, item in items.items()}
        catalog = build_catalog(
            items.values(),
            now=now,
            first_seen={key: rec.first_seen for key, rec in current.items()},
            updated_at=updated_times(prior, versions, now),
        )
        announce = baseline_done or self.config.push.announce_existing
        changes = transitions(prior, catalog, versions, items, self._payload, announce=announce)
        events: list[Event] = []

        def item_records() -> Iterator[ItemRecord]:
            for change in changes:
                if isinstance(change, Event):
                    events.append(change)
                else:
                    yield change

        with self.engine.begin() as connection:
            records.save_documents(connection, updates, removed)
            records.save_items(connection, item_records())
            event_ids = records.append_events(connection, events, now)
            outbox.fan_out(connection, list(zip(event_ids, events, strict=True)), now)
            if not baseline_done:
                records.set_setting(connection, records.BASELINE_DONE, now.isoformat())
            records.set_setting(connection, records.LAST_SCAN, now.isoformat())

        report = self.renderer.render(catalog, versions, progress)
        problems = [p for rec in current.values() for p in rec.problems] + list(catalog.problems)
        return ScanResult(
            catalog,
            events,
            problems,
            report,
            documents=len(current),
            parsed=sum(1 for r in reads if r.result is not None),
            event_ids=event_ids,
        )


def _merge(
    stored: dict[str, DocumentRecord], reads: Sequence[_Read], now: datetime
) -> tuple[dict[str, DocumentRecord], list[DocumentRecord], set[str]]:
    """Documents as they now are, the records to write back, and files no longer documents."""
    current = dict(stored)
    updates: list[DocumentRecord] = []
    dropped: set[str] = set()
    for read in reads:
        key = read.source.key
        old = stored.get(key)
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
            current.pop(key, None)
            dropped.add(key)
            continue
        current[key] = record
        updates.append(record)
    return current, updates, dropped
