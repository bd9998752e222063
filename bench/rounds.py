"""The store's cost of delivery rounds on PostgreSQL: CPU of the server per delivery claimed
and settled, without HTTP (run by hand).

    .venv/bin/python bench/rounds.py [--deliveries 20000 --history 100000 --runs 3]

``bench/scale.py`` measures what two deliverers make against one, but on a shared 2-core
machine its wall clock is noisy and its PostgreSQL figure counts every server process
(another session's tests too). This bench isolates the part the schema and the statements
decide: in a throwaway database on 127.0.0.1:5432 with ``--history`` deliveries already
delivered (a store with a past) and 100 subscriptions, ``--deliveries`` new ones are fanned
out, then claimed and settled as delivered by this process in rounds like the deliverer's
(``Deliverer._round``: in one transaction, settle what finished and claim when half the window
is free); ``--per-round`` results are settled a round, about what the deliverer settles with
100 nginx receivers (267 on average in ``bench/scale.py``). The server's CPU is read from ``/proc`` for the backend of the connection
(``pg_backend_pid``) and this process's from ``os.times``; both per delivery, median of runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from pg_database import throwaway_database  # bench/pg_database.py
from proc import name_and_cpu  # bench/proc.py
from sqlalchemy import Connection, Engine, text, update

from syndicator.config import Config
from syndicator.push import outbox, queue
from syndicator.push import subscriptions as subs
from syndicator.push.deliverer import BACKLOG, RUN
from syndicator.push.queue import Settled
from syndicator.push.sender import Attempt
from syndicator.push.status import DeliveryStatus
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event
from syndicator.store.schema import deliveries

RECEIVERS = 100
SLOTS = 64
"""``push.max_concurrency``'s default: a round claims up to ``BACKLOG × SLOTS × RUN``."""
DATA = '{"id": "x", "title": "An item", "content_html": "<p>' + "Text. " * 300 + '</p>"}'


def _backend_cpu(pid: int) -> float:
    return name_and_cpu(pid)[1]


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _fan_out(engine: Engine, events: int, now: datetime) -> None:
    batch = [Event("item.published", f"_posts/{n}.md", f"id-{n}", DATA) for n in range(events)]
    with engine.begin() as connection:
        ids = records.append_events(connection, batch, now)
        outbox.fan_out(connection, list(zip(ids, batch, strict=True)), now)


def fill(engine: Engine, history: int, now: datetime) -> None:
    """The subscriptions, and ``history`` deliveries made and delivered a day ago."""
    with engine.begin() as connection:
        for n in range(RECEIVERS):
            subs.add(
                connection,
                subs.new_subscription(
                    f"http://127.0.0.1:{10000 + n}/", allow_private=True, now=now
                ),
            )
    _fan_out(engine, history // RECEIVERS, now - timedelta(days=1))
    with engine.begin() as connection:
        connection.execute(
            update(deliveries).values(
                status=DeliveryStatus.DELIVERED, attempts=1, last_status=204, delivered_at=now
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def deliver_all(connection: Connection, total: int, per_round: int) -> int:
    """Rounds as the deliverer makes them, every attempt a 204, until ``total`` are settled:
    each settles ``per_round`` of the results in hand and claims when half the window is
    free (``Deliverer._claim``); the number of rounds."""
    window = BACKLOG * Config().push.max_concurrency * RUN
    busy: Counter[str] = Counter()
    in_hand: list[Settled] = []
    settled = rounds = 0
    while settled < total:
        now = datetime.now(UTC)
        results, in_hand = in_hand[:per_round], in_hand[per_round:]
        with connection.begin():
            if results:
                queue.settle(connection, results, schedule=(60.0,), shard=0)
            taken = []
            if window - len(in_hand) >= window // 2:
                taken = queue.claim(
                    connection,
                    now,
                    limit=window - len(in_hand),
                    lease=timedelta(minutes=1),
                    busy=busy,
                    per_endpoint=window,
                )
        settled += len(results)
        rounds += 1
        in_hand += [Settled(c, Attempt(204, 3.0, None), now) for c in taken]
        if not in_hand and settled < total:
            raise RuntimeError(f"only {settled} of {total} deliveries settled")
    return rounds


def run(deliveries_: int, history: int, per_round: int) -> tuple[float, float, int]:
    """Microseconds of server and of client CPU per delivery, and the rounds made."""
    with throwaway_database() as url:
        engine = open_engine(url)
        try:
            return _measure(engine, deliveries_, history, per_round)
        finally:
            engine.dispose()


def _measure(
    engine: Engine, deliveries_: int, history: int, per_round: int
) -> tuple[float, float, int]:
    fill(engine, history, datetime.now(UTC))
    _fan_out(engine, deliveries_ // RECEIVERS, datetime.now(UTC))
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.commit()
        server, client = _backend_cpu(pid), _own_cpu()
        rounds = deliver_all(connection, deliveries_, per_round)
        server, client = _backend_cpu(pid) - server, _own_cpu() - client
    return server / deliveries_ * 1e6, client / deliveries_ * 1e6, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--history", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=256)
    args = parser.parse_args()
    figures = [run(args.deliveries, args.history, args.per_round) for _ in range(args.runs)]
    for server, client, rounds in figures:
        print(
            f"  PostgreSQL {server:.0f} µs, this process {client:.0f} µs per delivery"
            f" ({rounds} rounds)"
        )
    print(
        f"median of {args.runs}: PostgreSQL {statistics.median(f[0] for f in figures):.0f} µs,"
        f" this process {statistics.median(f[1] for f in figures):.0f} µs per delivery"
        f" ({args.deliveries} deliveries, {args.history} delivered before);"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
