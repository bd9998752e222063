"""Console benchmark: every console page with 100,000 deliveries in the store.

Run by hand: ``.venv/bin/python bench/console.py [--deliveries 100000 --stores sqlite,postgresql
--requests 9]``. Everything listens on 127.0.0.1; PostgreSQL is the local server of the test
suite (127.0.0.1:5432, user postgres), in a throwaway database.

The store is filled through the store layer in bulk: subscriptions (``subscriptions.add``),
items (``records.save_items``), events (``records.append_events``) fanned out to their
deliveries (``outbox.fan_out``), then the deliveries settled as a busy service would have them
(most delivered, some failed after several attempts, a few pending) with their attempts, made
over the last two days. The web app (``create_app``, as ``syndicator run`` serves it) runs in
this process on a real socket; a signed-in client asks each page ``--requests`` times and the
median is printed. The goal (issue 15): every page under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import Engine, insert, select, update

from syndicator.config import Config, with_overrides
from syndicator.push import outbox
from syndicator.push import subscriptions as subs
from syndicator.push.status import DeliveryStatus
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import Event, ItemRecord
from syndicator.store.schema import deliveries, delivery_attempts
from syndicator.web.app import create_app
from syndicator.web.server import Server

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
TOKEN = "bench-console-token"
GOAL_MS = 300.0
SUBSCRIBERS = 4
"""Subscriptions every event goes to; as many more filtered to a tag no item has."""
TAGS = 50


def fill(engine: Engine, total: int, items: int, output: Path) -> tuple[str, int]:
    """The store as described above; a busy subscription's id and one failed delivery's id."""
    now = datetime.now(UTC)
    rng = random.Random(15)
    with engine.begin() as connection:
        for n in range(SUBSCRIBERS * 2):
            subs.add(
                connection,
                subs.new_subscription(
                    f"http://127.0.0.1:9/hook/{n}",
                    tags=[] if n < SUBSCRIBERS else ["nowhere"],
                    allow_private=True,
                    now=now - timedelta(days=3, seconds=n),
                ),
            )
        records.save_items(connection, [_item(n, now, rng) for n in range(items)])
    for tag in range(TAGS):
        for name in ("rss.xml", "atom.xml", "feed.json"):
            path = output / "tags" / f"tag-{tag}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
    events = total // SUBSCRIBERS
    chunk = 2500
    for start in range(0, events, chunk):
        made = now - timedelta(days=2) * (1 - start / events)
        batch = [
            Event("item.published", f"_posts/{n % items}.md", f"id-{n % items}", _data(n % items))
            for n in range(start, min(start + chunk, events))
        ]
        with engine.begin() as connection:
            ids = records.append_events(connection, batch, made)
            outbox.fan_out(connection, list(zip(ids, batch, strict=True)), made)
    settle(engine, now, rng)
    with engine.connect() as connection:
        busy = next(
            s.id for s in subs.page(connection, limit=SUBSCRIBERS * 2) if s.url.endswith("/0")
        )
        failed = connection.execute(
            select(deliveries.c.id).where(deliveries.c.status == DeliveryStatus.FAILED).limit(1)
        ).scalar_one()
    return busy, failed


def settle(engine: Engine, now: datetime, rng: random.Random) -> None:
    """90 % delivered at one attempt, 8 % failed after three, 2 % pending."""
    with engine.begin() as connection:
        rows = connection.execute(select(deliveries.c.id, deliveries.c.created_at)).all()
        fates: dict[str, list[int]] = {"delivered": [], "failed": [], "pending": []}
        attempts = []
        for row in rows:
            roll = rng.random()
            fate = "delivered" if roll < 0.9 else "failed" if roll < 0.98 else "pending"
            fates[fate].append(row.id)
            tries = {"delivered": 1, "failed": 3, "pending": 0}[fate]
            for n in range(tries):
                ok = fate == "delivered"
                attempts.append(
                    {
                        "delivery_id": row.id,
                        "attempted_at": row.created_at + timedelta(seconds=n * 5),
                        "status_code": 204 if ok else 500,
                        "duration_ms": rng.uniform(5, 200),
                        "error": None if ok else "HTTP 500 Internal Server Error",
                        "outcome": "delivered" if ok else "failed",
                        "reply": None if ok else "<html>maintenance</html>",
                    }
                )
        for fate, ids in fates.items():
            for start in range(0, len(ids), 5000):
                chosen = ids[start : start + 5000]
                values: dict[str, object] = {"status": fate}
                if fate == "delivered":
                    values |= {"attempts": 1, "last_status": 204, "delivered_at": now}
                elif fate == "failed":
                    values |= {"attempts": 3, "last_status": 500, "last_error": "HTTP 500"}
                connection.execute(
                    update(deliveries).where(deliveries.c.id.in_(chosen)).values(**values)
                )
        for start in range(0, len(attempts), 10000):
            connection.execute(insert(delivery_attempts), attempts[start : start + 10000])


def _data(n: int) -> str:
    tags = [f"Tag {n % TAGS}"]
    return json.dumps(
        {
            "id": f"id-{n}",
            "title": f"Item {n}",
            "content_html": "<p>" + "Text. " * 200 + "</p>",
            "tags": tags,
            "_syndicator": {"categories": [], "tags": [f"tag-{n % TAGS}"]},
        }
    )


def _item(n: int, now: datetime, rng: random.Random) -> ItemRecord:
    published = now - timedelta(minutes=rng.randint(0, 100000))
    return ItemRecord(f"_posts/{n}.md", f"id-{n}", "published", published, published, "v", _data(n))


def time_pages(url: str, pages: list[str], requests: int) -> dict[str, tuple[float, float]]:
    """Per page: the median, and the first request (the feeds' tally is built on it)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        form = client.get("/console/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/console/sign-in", data={"csrf": csrf.group(1), "token": TOKEN})
        medians = {}
        for page in pages:
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(page)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (page, answer.status_code, answer.text[:500])
            medians[page] = (statistics.median(times), times[0])
    return medians


def run(store: str, total: int, items: int, requests: int) -> dict[str, tuple[float, float]]:
    root = Path(tempfile.mkdtemp(prefix="bench-console-"))
    database = None
    if store == "postgresql":
        database = f"syndicator_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{root / 'store.db'}"
    config = with_overrides(
        Config(),
        store={"url": url},
        output={"dir": str(root / "out")},
        server={"api_token": TOKEN, "port": 0},
        websub={"enabled": False},
    )
    engine = open_engine(url)
    try:
        started = time.perf_counter()
        busy, failed = fill(engine, total, items, root / "out")
        print(f"{store}: filled in {time.perf_counter() - started:.0f} s", flush=True)
        server = Server(create_app(config, engine), host="127.0.0.1", port=0)
        server.start()
        try:
            pages = [
                "/console/",
                "/console/subscriptions",
                "/console/subscriptions?state=disabled",
                "/console/subscriptions/new",
                f"/console/subscriptions/{busy}",
                f"/console/subscriptions/{busy}?status=failed",
                f"/console/subscriptions/{busy}?status=pending",
                f"/console/subscriptions/{busy}?before={total // 2}",
                f"/console/subscriptions/{busy}/delete",
                "/console/deliveries",
                "/console/deliveries?status=failed",
                "/console/deliveries?status=pending",
                f"/console/deliveries?before={total // 2}",
                f"/console/deliveries/{failed}",
                "/console/websub",
                "/console/feeds",
                "/console/items",
                "/console/items?state=published&start=1000",
                "/console/items/_posts/7.md",
            ]
            return time_pages(server.url, pages, requests)
        finally:
            server.stop()
    finally:
        engine.dispose()
        if database is not None:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    worst = 0.0
    for store in args.stores.split(","):
        medians = run(store, args.deliveries, args.items, args.requests)
        print(f"\n{store}, {args.deliveries} deliveries: median of {args.requests}, first (ms)")
        for page, (median, first) in medians.items():
            print(f"  {median:7.1f} {first:7.1f}  {page}")
        worst = max(worst, *(median for median, _ in medians.values()))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    verdict = "all under" if worst < GOAL_MS else "NOT all under"
    print(f"\nslowest page {worst:.1f} ms: {verdict} {GOAL_MS:.0f} ms (load average {load})")


if __name__ == "__main__":
    main()
