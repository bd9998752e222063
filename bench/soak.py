"""Soak: many deliveries through one deliverer with a short retention; the store stays bounded.

Run by hand: ``.venv/bin/python bench/soak.py [--waves 100 --events 100 --receivers 100]``
(the defaults make 1,000,000 deliveries). Needs ``nginx`` (cheap receivers). Each wave
announces ``--events`` events fanned out to ``--receivers`` subscriptions and waits until all
are delivered; a pruner runs every ``--prune-every`` seconds with a retention of
``--retention`` seconds, in a process of its own as in ``syndicator run`` (the scanner's), so
most waves age out while later ones are delivered. Printed per wave: throughput, rows in the
store, RSS; at the end, what is left, and the waves' throughput with pruning and without.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from push import _config, _wait, nginx, subscribe
from sqlalchemy import Engine, func, select

from syndicator.push import outbox
from syndicator.push.deliverer import Deliverer
from syndicator.push.retention import Pruner
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event
from syndicator.store.schema import deliveries, delivery_attempts, events

DATA = json.dumps({"title": "t", "content_html": "Text. " * 300, "_syndicator": {}})


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (events, deliveries, delivery_attempts)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--waves", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--retention", type=float, default=20.0, help="seconds")
    parser.add_argument("--prune-every", type=float, default=5.0, help="seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-soak-") as temporary:
        root = Path(temporary)
        (root / "nginx").mkdir()
        config = _config(root / "site", retention_days=args.retention / 86400)
        engine = open_engine(config.store.url)
        with nginx(args.receivers, root / "nginx") as ports:
            subscribe(engine, ports)
            deliverer = Deliverer(config, engine)
            # The pruner runs where `syndicator run` runs it: in the scanner's process.
            stopping = multiprocessing.get_context("spawn").Event()
            pruner = multiprocessing.get_context("spawn").Process(
                target=_prune,
                args=(config.store.url, config.push.retention_days, args.prune_every, stopping),
                name="scanner",
            )
            pruner.start()
            deliverer.start()
            rates: list[float] = []
            pruning: list[bool] = []
            sent = 0
            try:
                for wave in range(args.waves):
                    before = counts(engine)[1]
                    started = time.perf_counter()
                    with engine.begin() as connection:
                        new = [
                            Event("item.published", f"_posts/{wave}-{n}.md", f"{wave}-{n}", DATA)
                            for n in range(args.events)
                        ]
                        ids = records.append_events(connection, new, datetime.now(UTC))
                        outbox.fan_out(
                            connection, list(zip(ids, new, strict=True)), datetime.now(UTC)
                        )
                    total = args.events * args.receivers
                    # Pruning removes delivered rows too: count what left the pending states.
                    _wait(lambda: _unsettled(engine) == 0, 3600, every=0.05)
                    sent += total
                    rate = total / (time.perf_counter() - started)
                    rates.append(rate)
                    ev, de, at = counts(engine)
                    pruned = before + total - de
                    pruning.append(pruned > 0)
                    print(
                        f"wave {wave + 1:4}: {sent:>9,} sent, {rate:6,.0f}/s; rows: {ev:,} events, "
                        f"{de:,} deliveries, {at:,} attempts; {pruned:,} deliveries pruned; "
                        f"RSS {rss_mb():.0f} MB",
                        flush=True,
                    )
            finally:
                deliverer.stop()
                stopping.set()
                pruner.join()
            ev, de, at = counts(engine)
            first, last = rates[: len(rates) // 4 or 1], rates[-(len(rates) // 4 or 1) :]
            print(
                f"{sent:,} deliveries; throughput median {statistics.median(rates):,.0f}/s "
                f"(first quarter {statistics.median(first):,.0f}, last {statistics.median(last):,.0f})"
            )
            print(f"left in the store: {ev:,} events, {de:,} deliveries, {at:,} attempts")
            _compare_pruning(rates, pruning)
        engine.dispose()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _prune(url: str, retention_days: float, every: float, stopping: EventType) -> None:
    """The scanner process's pruner, every ``every`` seconds until ``stopping``."""
    engine = open_engine(url)
    pruner = Pruner(engine, lambda: datetime.now(UTC), retention_days, interval=every)
    pruner.start()
    stopping.wait()
    pruner.stop()
    engine.dispose()


def _compare_pruning(rates: list[float], pruning: list[bool]) -> None:
    during = [rate for rate, pruned in zip(rates, pruning, strict=True) if pruned]
    without = [rate for rate, pruned in zip(rates, pruning, strict=True) if not pruned]
    if not during or not without:
        print("every wave was of one kind (pruning or not): change --prune-every to compare")
        return
    print(
        f"waves with pruning: {len(during)}, median {statistics.median(during):,.0f}/s; "
        f"without: {len(without)}, median {statistics.median(without):,.0f}/s; "
        f"ratio {statistics.median(during) / statistics.median(without):.2f}"
    )


def _unsettled(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(deliveries.c.status.in_(("pending", "delivering")))
            ).scalar_one()
        )


if __name__ == "__main__":
    main()
