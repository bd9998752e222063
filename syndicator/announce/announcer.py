"""Recording a scan's transitions and queuing what they announce, in the scan's transaction.

Events are fanned out to the webhook outbox in the same transaction as the records, so an
event is never stored without its deliveries; WebSub distributions follow once the new feed
files are on disk, since their bodies are those files.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine

from syndicator.announce.transitions import transitions
from syndicator.catalog import Entry
from syndicator.config import Config
from syndicator.engine.pipeline import Announced, Pipeline, Step
from syndicator.feeds.context import SiteContext
from syndicator.feeds.jsonfeed import json_item
from syndicator.push import outbox, websub
from syndicator.store import records
from syndicator.store.records import Event, ItemRecord


class Announcer:
    def __init__(self, config: Config, store: Engine) -> None:
        self.config = config
        self.store = store
        self.site = SiteContext.from_config(config)

    def _payload(self, entry: Entry) -> str:
        return orjson.dumps(json_item(entry, self.site, extension=True)).decode()

    def record(self, connection: Connection, step: Step, now: datetime) -> Announced:
        """Write the item records of a scan and its events, and fan the events out to the
        outbox; the events and their ids."""
        catalog = step.catalog
        hidden = [new.key for old, new in step.changes if old and new.key not in catalog.entries]
        found = transitions(
            step.changes,
            catalog,
            self._payload,
            records.load_payloads(connection, hidden),
            announce=step.baseline_done or self.config.push.announce_existing,
        )
        events: list[Event] = []

        def item_records() -> Iterator[ItemRecord]:
            for change in found:
                if isinstance(change, Event):
                    events.append(change)
                else:
                    yield change

        records.save_items(connection, item_records())
        event_ids = records.append_events(connection, events, now)
        outbox.fan_out(connection, list(zip(event_ids, events, strict=True)), now)
        return Announced(events, event_ids)

    def after_output(self, now: datetime) -> int:
        if not self.config.hub_url:
            return 0
        with self.store.begin() as connection:
            return websub.enqueue_distribution(connection, Path(self.config.output.dir), now)


def announcing_pipeline(config: Config, store: Engine, *, keep_cache: bool = True) -> Pipeline:
    """The pipeline of ``build`` and the worker: the engine with the announcer after it."""
    return Pipeline(config, store, announcer=Announcer(config, store), keep_cache=keep_cache)
