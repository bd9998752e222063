"""``syndicator run``: keeps the feeds current and the event log complete.

A periodic scan (APScheduler) is the safety net; filesystem events (watchdog) trigger a
debounced scan at once; a one-off job publishes the next scheduled item at its time. Scans are
serialised by a lock, so a watch event during a periodic scan waits instead of racing it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import Config
from syndicator.engine.pipeline import ScanResult
from syndicator.push.deliverer import Deliverer
from syndicator.push.retention import Pruner
from syndicator.store import StoreError
from syndicator.store.database import ScannerLock
from syndicator.vocabulary import Role
from syndicator.web.app import create_app
from syndicator.web.server import Server

log = logging.getLogger("syndicator.worker")
Clock = Callable[[], datetime]
DEBOUNCE = timedelta(milliseconds=50)
STANDBY_SECONDS = 1.0


def system_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class _Changes(FileSystemEventHandler):
    """Passes on the paths that changed; ``None`` when a folder came, went or moved, which only
    a full walk can follow. A folder's own "modified" events say nothing new and are dropped."""

    def __init__(self, notify: Callable[[list[str] | None], None]) -> None:
        self.notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in {"opened", "closed_no_write"}:
            return
        if event.is_directory:
            if event.event_type != "modified":
                self.notify(None)
            return
        paths = [event.src_path, event.dest_path] if event.dest_path else [event.src_path]
        self.notify([os.fsdecode(p) for p in paths])


class Worker:
    """The roles of one process: scanning, delivering or serving (``run --role all`` gives
    each its own process: ``worker.supervisor``). ``wake`` tells a deliverer in another
    process that deliveries were queued."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        role: Role = Role.ALL,
        clock: Clock = system_clock,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.scans = role.scans
        self.pipeline = announcing_pipeline(config, engine)
        self.lock = ScannerLock(engine)
        self.deliverer = Deliverer(config, engine) if role.delivers else None
        # Retention belongs to the one scanner of a store, not to each deliverer: several
        # deliverers would delete the same rows, and a deliverer's interpreter has no time
        # to spare (pruning took 3 % of a busy deliverer's posts from it).
        self.pruner = Pruner(engine, clock, config.push.retention_days) if role.scans else None
        self._queued = self.deliverer.wake if self.deliverer else wake
        self.server = (
            Server(
                create_app(config, engine, on_change=self._queued),
                host=config.server.host,
                port=config.server.port,
            )
            if role.serves
            else None
        )
        self._scan_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: set[str] | None = set()
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Take the roles. A second scanner on SQLite is refused; on PostgreSQL it stands by
        and takes the role over within ``STANDBY_SECONDS`` of the holder's death."""
        holds_lock = self.scans and self.lock.try_acquire()
        if self.scans and not holds_lock and self.engine.dialect.name == "sqlite":
            raise StoreError(
                f"another syndicator worker is already scanning the store {self.engine.url!r}; "
                "stop it first (only one scanner may run per store)"
            )
        if self.deliverer is not None:
            self.deliverer.start()
        if self.server is not None:
            self.server.start()
        if holds_lock:
            # The first scan, the longest, before the scheduler and the watcher start their
            # threads: a scanner alone in its process (``--role scanner``, and the scanner of
            # ``--role all``) then forks its workers, which read the catalog from inherited
            # memory, instead of pickling it to each of the fork server's (100,000 documents:
            # 4.1 GB of peak memory for the process tree). The scan that follows once the
            # watcher runs finds what changed meanwhile.
            self.scan()
        self._scheduler.start()
        if holds_lock:
            self._start_scanning()
        elif self.scans:
            log.info("another process holds the scanner role; standing by")
            self._scheduler.add_job(
                self._take_over, "interval", seconds=STANDBY_SECONDS, id="scanner-standby"
            )

    def _take_over(self) -> None:
        if self.lock.try_acquire():
            self._scheduler.remove_job("scanner-standby")
            log.info("took over the scanner role")
            self._start_scanning()

    def _start_scanning(self) -> None:
        self._scheduler.add_job(
            self.scan,
            "interval",
            seconds=self.config.schedule.scan_interval_seconds,
            id="periodic-scan",
            coalesce=True,
            max_instances=1,
        )
        if self.config.schedule.watch:
            observer = Observer()
            handler = _Changes(self._changed)
            for folder in self.config.content.paths:
                observer.schedule(handler, str(folder), recursive=True)
            observer.start()
            self._observer = observer
        self.scan()
        if self.pruner is not None:
            self.pruner.start()

    def stop(self) -> None:
        """Finish the scan under way, then let go of everything."""
        if self.server is not None:
            self.server.stop()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self.pruner is not None:
            self.pruner.stop()
        with self._scan_lock:
            self.lock.release()
        if self.deliverer is not None:
            self.deliverer.stop()
        self.engine.dispose()

    def scan(self, paths: set[str] | None = None) -> ScanResult | None:
        """A scan of the whole folder, or of ``paths`` only (as the watcher reported them)."""
        with self._scan_lock:
            try:
                result = self.pipeline.scan(self.clock(), paths=paths)
            except Exception:
                log.exception("scan failed; the next one will try again")
                return None
        if (result.events or result.distributions) and self._queued is not None:
            self._queued()
        for problem in result.new_problems:
            log.warning("%s", problem)
        if result.events or result.report.written or result.report.removed:
            log.info(
                "scan: %d documents, %d parsed, %d events, %d files written, %d removed",
                result.documents,
                result.parsed,
                len(result.events),
                len(result.report.written),
                len(result.report.removed),
            )
        self._schedule_next(result.catalog.next_scheduled)
        return result

    def _changed(self, paths: list[str] | None) -> None:
        with self._pending_lock:
            if paths is None or self._pending is None:
                self._pending = None
            else:
                self._pending.update(paths)
        if self._scheduler.running:
            self._scheduler.add_job(
                self._watched_scan,
                "date",
                run_date=datetime.now(UTC) + DEBOUNCE,
                id="watch-scan",
                replace_existing=True,
                # A round that starts while one runs waits for the scan lock, then finds what
                # is left (or nothing); APScheduler would otherwise skip it.
                max_instances=3,
            )

    def _watched_scan(self) -> None:
        """Scan what the watcher reported, until nothing is left: events that came in during a
        scan are taken by the next round here, never left waiting for the periodic scan."""
        while True:
            with self._pending_lock:
                paths, self._pending = self._pending, set()
            if paths is not None and not paths:
                return
            self.scan(paths)

    def _schedule_next(self, when: datetime | None) -> None:
        """Publish the next scheduled item at its time, with no file change needed."""
        if when is None or not self._scheduler.running:
            return
        self._scheduler.add_job(
            self.scan, "date", run_date=when, id="scheduled-publication", replace_existing=True
        )
