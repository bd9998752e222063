"""Prometheus metrics read from the store at scrape time.

Scanning, delivering and serving may run in different processes (``--role``), so counters kept
in this process's memory would only ever see its own share. Everything here is read from the
store, which all of them share, on every scrape: the numbers are the same whichever web process
answers. Attempts and their latency come from counters the deliverers keep as they settle
(``syndicator.push.counters``): a scrape never reads the attempt log.
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

from syndicator.push import counters, history
from syndicator.push.status import DeliveryKind
from syndicator.store import records
from syndicator.store.schema import deliveries, websub_subscriptions


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
        totals = counters.read(connection)
        yield _attempts(totals)
        yield _latency(totals)
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
    for state, count in records.count_items(connection).items():
        metric.add_metric([state], count)
    return metric


def _deliveries(connection: Connection) -> Metric:
    metric = GaugeMetricFamily(
        "syndicator_deliveries",
        "Deliveries by kind (webhook, websub) and status (pending, delivered, failed, …)",
        labels=["kind", "status"],
    )
    kind = case(
        (deliveries.c.websub_subscription_id.is_(None), DeliveryKind.WEBHOOK.value),
        else_=DeliveryKind.WEBSUB.value,
    )
    for row_kind, status, count in connection.execute(
        select(kind, deliveries.c.status, func.count()).group_by(kind, deliveries.c.status)
    ):
        metric.add_metric([row_kind, status], count)
    return metric


def _queue_depth(connection: Connection, now: datetime) -> Metric:
    return GaugeMetricFamily(
        "syndicator_delivery_queue_depth",
        "Deliveries due and waiting for a deliverer",
        value=history.queue_depth(connection, now),
    )


def _attempts(totals: dict[str, float]) -> Metric:
    metric = CounterMetricFamily(
        "syndicator_delivery_attempts",
        "Delivery attempts by outcome (delivered, gone, failed)",
        labels=["outcome"],
    )
    for outcome, count in sorted(counters.attempts_by_outcome(totals).items()):
        metric.add_metric([outcome], count)
    return metric


def _latency(totals: dict[str, float]) -> Metric:
    """Duration of delivery attempts, connect to last byte."""
    buckets = [
        (str(bound), int(totals.get(f"latency:le:{bound}", 0)))
        for bound in counters.LATENCY_BUCKETS
    ]
    return HistogramMetricFamily(
        "syndicator_delivery_latency_seconds",
        "Duration of each delivery attempt, connect to last byte",
        buckets=[*buckets, ("+Inf", int(totals.get("latency:count", 0)))],
        sum_value=totals.get("latency:sum_ms", 0.0) / 1000,
    )


def _websub(connection: Connection, now: datetime) -> Metric:
    active = connection.execute(
        select(func.count()).where(websub_subscriptions.c.expires_at > now)
    ).scalar_one()
    return GaugeMetricFamily(
        "syndicator_websub_subscriptions", "WebSub subscriptions in force", value=active
    )
