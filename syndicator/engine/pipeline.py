"""The incremental pipeline: the folder against what the last scan saw, read → catalog → render.

``syndicator build`` runs it once, ``syndicator check`` runs it once without rendering or
writing, and the worker runs it per change or tick: one path, so the three always agree on the
catalog (first-seen times, states, duplicates). Only files whose size, mtime or hash changed are
parsed again; the store keeps the last good parse of every document, so a file that becomes
unreadable keeps its item in the feeds.

The stages after it (the announcer) receive each scan's ``Step`` and write their rows in the
scan's transaction; the pipeline never imports them (docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Protocol

from sqlalchemy import Connection, Engine

from syndicator.catalog import Delta, LiveCatalog
from syndicator.config import Config
from syndicator.content.items import Item, Problem, reading_settings
from syndicator.content.sources import Source, locate, roots, walk
from syndicator.engine.changes import Change, record_changes
from syndicator.engine.reading import ReadAhead, merge, read_sources
from syndicator.engine.render import SiteRenderer
from syndicator.engine.times import FirstSeen, UpdatedTimes, updated_times
from syndicator.output.writer import WriteReport
from syndicator.parallel import Beside
from syndicator.progress import silent
from syndicator.store import records
from syndicator.store.forms import DocumentRecord
from syndicator.store.records import Event, ItemRecord

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Step:
    """What one scan found, as the engine reports it to the stages that follow."""

    catalog: LiveCatalog
    # The item records this scan changes, in key order (``engine.changes``).
    changes: Sequence[Change]
    # False until the store has finished a first scan: that baseline announces nothing.
    baseline_done: bool


@dataclass(frozen=True)
class Announced:
    """What the announcer wrote in the scan's transaction."""

    events: list[Event] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


class Announcer(Protocol):
    """A stage that follows the engine: records what each scan changed, in its transaction."""

    def record(self, connection: Connection, step: Step, now: datetime) -> Announced: ...

    def after_output(self, now: datetime) -> int:
        """Work that needs the new output on disk; how many deliveries it queued."""
        ...


@dataclass(frozen=True)
class ScanResult:
    catalog: LiveCatalog
    problems: list[Problem]
    report: WriteReport
    documents: int
    parsed: int
    events: list[Event] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    # WebSub deliveries queued because a feed a hub subscriber follows changed.
    distributions: int = 0
    # Those of ``problems`` not reported before, which the worker logs: all of them on the
    # pipeline's first scan, then those a scan found (in the files it parsed, or about items it
    # changed: a duplicate id).
    new_problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        """The line ``build`` and ``check`` both print first (docs/contracts/cli.md)."""
        states = list(self.catalog.states.values())
        return (
            f"{self.documents} documents: {states.count('published')} published, "
            f"{states.count('draft')} drafts, {states.count('scheduled')} scheduled"
        )


class Pipeline:
    """Keeps the documents, item records and catalog of the last scan in memory, with the
    rendered entries of the feeds' current pages (one scanner runs per store), so a scan
    costs what changed, not the site's size.

    ``store`` None: nothing is remembered between processes (a ``check`` with no store yet).
    ``announcer`` None: the store is only read, never written. ``render`` False: no output.
    """

    def __init__(
        self,
        config: Config,
        store: Engine | None,
        *,
        announcer: Announcer | None = None,
        render: bool = True,
        keep_cache: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.announcer = announcer
        self.render = render
        self.keep_cache = keep_cache
        self.roots = roots(config.content.paths)
        self.reading = reading_settings(config)
        self._forget()

    def _forget(self) -> None:
        """Drop what the last scans left in memory; the next scan starts again from the store."""
        self.renderer = (
            SiteRenderer(self.config, Path(self.config.output.dir), keep_cache=self.keep_cache)
            if self.render
            else None
        )
        self.catalog = LiveCatalog()
        self._documents: dict[str, DocumentRecord] | None = None
        self._prior: dict[str, ItemRecord] = {}
        self._versions: dict[str, str] = {}
        self._baseline_done = False
        # The settings the stored items were read under (``reading_settings``); when they are
        # not the current ones, every file is read again.
        self._read_with: str | None = None

    def _load(self) -> dict[str, DocumentRecord]:
        documents: dict[str, DocumentRecord] = {}
        if self.store is not None:
            with self.store.connect() as connection:
                documents = records.load_documents(connection)
                self._prior = records.load_items(connection)
                done = records.get_setting(connection, records.BASELINE_DONE)
                self._baseline_done = done is not None
                self._read_with = records.get_setting(connection, records.READING_SETTINGS)
        self._documents = documents
        return documents

    def scan(
        self,
        now: datetime,
        progress: ProgressFn = silent,
        *,
        paths: Iterable[str] | None = None,
        ahead: ReadAhead | None = None,
    ) -> ScanResult:
        """Compare the folder (or only ``paths``, as reported by the watcher) with the last
        scan, and carry every change through to the feeds, then the store. ``ahead``: the
        folder as read before the store was open, taken if the scan reads all of it.

        The output is written before the store commits, so a scan that fails part-way (a full disk,
        the store unreachable) never leaves the store ahead of the feeds; its memory is then
        forgotten, and the next scan reloads and redoes the difference.
        """
        try:
            return self._scan(now, progress, paths, ahead)
        except BaseException:
            self._forget()
            raise

    def _scan(
        self,
        now: datetime,
        progress: ProgressFn,
        paths: Iterable[str] | None,
        ahead: ReadAhead | None,
    ) -> ScanResult:
        first = self._documents is None
        documents = self._load() if self._documents is None else self._documents
        found = self._sources_at(paths, documents) if paths is not None and not first else None
        if found is None:
            sources = ahead.sources if ahead is not None else walk(self.config.content.paths)
            present = {s.key for s in sources}
            gone = [key for key in documents if key not in present]
        else:
            sources, gone = found
        # A store from before the settings were recorded: its items are taken as read under
        # the current ones, as they always were, so an upgrade reads nothing again.
        stale = self._read_with not in (None, self.reading)
        changed = [
            s
            for s in sources
            if stale
            or (old := documents.get(s.key)) is None
            or (old.size, old.mtime_ns) != (s.size, s.mtime_ns)
        ]
        known = (
            {} if stale else {s.key: documents[s.key].sha256 for s in changed if s.key in documents}
        )
        reads = ahead.take(changed, self.config, known) if ahead is not None else None
        if reads is None:
            reads = read_sources(changed, self.config, known, progress)
        before = {
            r.source.key: documents[r.source.key].item for r in reads if r.source.key in documents
        }
        updates, dropped = merge(documents, reads, now)
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
                self._versions[key] = documents[key].version
        fresh = updated_times(
            self._prior, {k: self._versions[k] for k in items if k in self._versions}, now
        )
        delta = self.catalog.apply(
            items,
            now=now,
            first_seen=FirstSeen(documents),
            updated_at=UpdatedTimes(fresh, self._prior),
        )
        keys = sorted(
            (self._prior.keys() | self.catalog.states.keys())
            if first
            else (delta.keys | items.keys())
        )
        announced = Announced()
        distributions = 0
        if self.store is not None and self.announcer is not None:
            changes = record_changes(keys, self._prior, self.catalog, self._versions)
            step = Step(self.catalog, changes, self._baseline_done)
            writes = self._writes(self.store, self.announcer, updates, removed, step, now)
            announced, report = self._record(self.store, writes, len(keys), delta, progress)
            self._baseline_done = True
            self._read_with = self.reading
            self._prior.update((record.key, record) for _, record in changes)
            distributions = self.announcer.after_output(now)
        else:
            report = self._rendering(delta, progress)()
        problems = [p for rec in documents.values() for p in rec.problems] + self.catalog.problems
        new_problems = problems
        if not first:
            touched = set(keys)
            new_problems = [p for r in reads if r.result is not None for p in r.result.problems] + [
                p for p in self.catalog.problems if p.path in touched
            ]
        return ScanResult(
            self.catalog,
            problems,
            report,
            documents=len(documents),
            parsed=sum(1 for r in reads if r.result is not None),
            events=announced.events,
            event_ids=announced.event_ids,
            distributions=distributions,
            new_problems=new_problems,
        )

    def _rendering(self, delta: Delta, progress: ProgressFn) -> Callable[[], WriteReport]:
        """Starts the output; the call returned waits for it and reports it (an empty report
        where nothing renders: ``check``)."""
        if self.renderer is None:
            return WriteReport
        return self.renderer.start(self.catalog, delta, progress)

    def _record(
        self,
        store: Engine,
        writes: Generator[None, None, Announced],
        size: int,
        delta: Delta,
        progress: ProgressFn,
    ) -> tuple[Announced, WriteReport]:
        """The output and the scan's rows (``writes``, for ``size`` items), written side by
        side; the rows are committed once the output is written, so the store is never ahead
        of the feeds.

        A scan of many items writes its rows in a child process forked before the output
        starts (``parallel.Beside``): they were a serial quarter of a cold build's time
        after reading, most of it with the other core idle. Otherwise they are written here
        while the workers render the pages for people, the output's last stage."""
        beside = Beside(
            writes,
            size=size,
            # A child never uses the parent's connections, which the parent goes on using.
            after_fork=lambda: store.dispose(close=False),
        )
        try:
            rendering = self._rendering(delta, progress)
            beside.begin()
            report = rendering()
        except BaseException:
            beside.abandon()
            raise
        return beside.commit(), report

    def _writes(
        self,
        store: Engine,
        announcer: Announcer,
        updates: Sequence[DocumentRecord],
        removed: Sequence[str],
        step: Step,
        now: datetime,
    ) -> Generator[None, None, Announced]:
        """The documents and whatever the announcer records, in one transaction, committed
        after the ``yield`` (``Beside``)."""
        with store.begin() as connection:
            records.save_documents(connection, updates, removed)
            announced = announcer.record(connection, step, now)
            if not step.baseline_done:
                records.set_setting(connection, records.BASELINE_DONE, now.isoformat())
            records.set_setting(connection, records.LAST_SCAN, now.isoformat())
            if self._read_with != self.reading:
                records.set_setting(connection, records.READING_SETTINGS, self.reading)
            yield
        return announced

    def _sources_at(
        self, paths: Iterable[str], documents: Mapping[str, DocumentRecord]
    ) -> tuple[list[Source], list[str]] | None:
        """The sources at ``paths`` and the keys gone from them; None when only a full walk can
        tell (a folder was created, moved or deleted)."""
        sources: list[Source] = []
        gone: list[str] = []
        for path in paths:
            located = locate(path, self.roots)
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
