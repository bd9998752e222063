"""Scale-out benchmark: delivery throughput with 1, 2 and 4 deliverer processes on PostgreSQL.

Run by hand: ``.venv/bin/python bench/scale.py [--events 500 --receivers 20 --workers 1,2,4]``.
For each worker count a fresh database on 127.0.0.1:5432 gets ``--receivers`` subscriptions
and ``--events`` items (events × receivers deliveries, written by one scan); then that many
``syndicator run --role deliverer`` processes start together and the time until the local
receivers have every delivery is measured. Only 127.0.0.1 is used; every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from push import _wait, fill_outbox, receivers

from syndicator.config import Config, with_overrides
from syndicator.store.database import open_engine

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def run(workers: int, events: int, ports: list[int], counter, root: Path) -> float:
    name = f"syndicator_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    posts = root / "_posts"
    posts.mkdir(parents=True)
    config = with_overrides(
        Config(),
        content={"dirs": [str(posts)]},
        output={"dir": str(root / "out")},
        store={"url": url},
        push={"allow_private_targets": True, "max_concurrency": 16},
    )
    (root / "syndicator.toml").write_text(
        f'[content]\ndirs = ["{posts}"]\n[output]\ndir = "{root / "out"}"\n'
        f'[store]\nurl = "{url}"\n[push]\nallow_private_targets = true\nmax_concurrency = 16\n'
    )
    engine = open_engine(url)
    try:
        total = fill_outbox(config, engine, ports, events)
        before = counter.value
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "syndicator",
                    "run",
                    "--role",
                    "deliverer",
                    "--config",
                    str(root / "syndicator.toml"),
                ],
                stderr=subprocess.DEVNULL,
                cwd=root,
            )
            for _ in range(workers)
        ]
        try:
            _wait(lambda: counter.value - before >= total, 1800)
            return total / (time.perf_counter() - started)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="syndicator-bench-scale-") as temporary,
        receivers(args.receivers, Path(temporary) / "arrivals.txt") as (ports, counter),
    ):
        print(
            f"{args.events} events × {args.receivers} receivers = {args.events * args.receivers} deliveries, PostgreSQL"
        )
        for count in (int(w) for w in args.workers.split(",")):
            rate = run(count, args.events, ports, counter, Path(temporary) / f"w{count}")
            print(
                f"  {count} deliverer process(es): {rate:,.0f} deliveries/s (includes process start-up)"
            )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
