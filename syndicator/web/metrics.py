"""Prometheus metrics read from the store at scrape time.

Scanning, delivering and serving may run in different processes (``--role``), so counters kept
in this process's memory would only ever see its own share. Everything here is read from the
store, which all of them share, on every scrape: the numbers are the same whichever web process
answers. The price is a few aggregate queries per scrape, over the attempt log among others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from syndicator.push.sender import outcome_of
from syndicator.store import records
from syndicator.store.schema import deliveries, delivery_attempts, items, websub_subscriptions

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
"""Seconds; the default push timeout (15 s) bounds nearly every attempt."""


class StoreCollector(Collector):
    """The service's state as Prometheus metrics; ``syndicator_store_up`` 0 when unreachable."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("syndicator_store_up", "1 when the store answered this scrape")
        try:
            with self.engine.connect() as connection:
                found = list(self._read(connection))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _read(self, connection: Connection) -> Iterator[Metric]:
        yield from _last_scan(connection)
        yield _items(connection)
        yield _deliveries(connection)
        yield _queue_depth(connection, self.clock())
        yield _attempts(connection)
        yield _latency(connection)
        yield _websub(connection, self.clock())


def registry(engine: Engine, clock: Callable[[], datetime]) -> CollectorRegistry:
    """A registry of this app's own (not the process-global one, which other apps share)."""
    result = CollectorRegistry(auto_describe=False)
    result.register(StoreCollector(engine, clock))
    return result


def _last_scan(connection: Connection) -> Iterator[Metric]:
    """When the last scan ran: scans happen in the scanner process, which records this."""
    last = records.get_setting(connection, records.LAST_SCAN)
    if last is not None:
        yield GaugeMetricFamily(
            "syndicator_last_scan_timestamp_seconds",
            "Unix time of the last completed scan",
            value=datetime.fromisoformat(last).timestamp(),
        )


def _items(connection: Connection) -> Metric:
    metric = GaugeMetricFamily(
        "syndicator_items", "Items the store knows, by state", labels=["state"]
    )
    for state, count in connection.execute(
        select(items.c.state, func.count()).group_by(items.c.state)
    ):
        metric.add_metric([state], count)
    return metric


def _deliveries(connection: Connection) -> Metric:
    metric = GaugeMetricFamily(
        "syndicator_deliveries",
        "Deliveries by kind (webhook, websub) and status (pending, delivered, failed, …)",
        labels=["kind", "status"],
    )
    kind = case((deliveries.c.websub_subscription_id.is_(None), "webhook"), else_="websub")
    for row_kind, status, count in connection.execute(
        select(kind, deliveries.c.status, func.count()).group_by(kind, deliveries.c.status)
    ):
        metric.add_metric([row_kind, status], count)
    return metric


def _queue_depth(connection: Connection, now: datetime) -> Metric:
    """Deliveries due and not yet taken: a value that keeps growing means too few deliverers."""
    due = connection.execute(
        select(func.count()).where(
            deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now
        )
    ).scalar_one()
    return GaugeMetricFamily(
        "syndicator_delivery_queue_depth", "Deliveries due and waiting for a deliverer", value=due
    )


def _attempts(connection: Connection) -> Metric:
    """Attempts by outcome, judged by the sender's own rule (2xx delivered, 410 gone)."""
    totals: dict[str, int] = {}
    for status, count in connection.execute(
        select(delivery_attempts.c.status_code, func.count()).group_by(
            delivery_attempts.c.status_code
        )
    ):
        outcome = outcome_of(status).value
        totals[outcome] = totals.get(outcome, 0) + count
    metric = CounterMetricFamily(
        "syndicator_delivery_attempts",
        "Delivery attempts by outcome (delivered, gone, failed)",
        labels=["outcome"],
    )
    for outcome, count in sorted(totals.items()):
        metric.add_metric([outcome], count)
    return metric


def _latency(connection: Connection) -> Metric:
    """Duration of delivery attempts, from the attempt log."""
    milliseconds = delivery_attempts.c.duration_ms
    within = [
        func.sum(case((milliseconds <= bound * 1000, 1), else_=0)) for bound in LATENCY_BUCKETS
    ]
    row = connection.execute(
        select(func.count(), func.coalesce(func.sum(milliseconds), 0.0), *within)
    ).one()
    count, total_ms, *cumulative = row
    buckets = [
        (str(bound), int(n or 0)) for bound, n in zip(LATENCY_BUCKETS, cumulative, strict=True)
    ]
    return HistogramMetricFamily(
        "syndicator_delivery_latency_seconds",
        "Duration of each delivery attempt, connect to last byte",
        buckets=[*buckets, ("+Inf", int(count))],
        sum_value=float(total_ms) / 1000,
    )


def _websub(connection: Connection, now: datetime) -> Metric:
    active = connection.execute(
        select(func.count()).where(websub_subscriptions.c.expires_at > now)
    ).scalar_one()
    return GaugeMetricFamily(
        "syndicator_websub_subscriptions", "WebSub subscriptions in force", value=active
    )
