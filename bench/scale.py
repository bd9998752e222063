"""Scale-out benchmark: delivery throughput with 1, 2 and 4 deliverer processes on PostgreSQL.

Run by hand: ``.venv/bin/python bench/scale.py [--events 200 --receivers 100 --workers 1,2]``.
Needs ``nginx`` (the cheap receivers of ``bench/push.py``). For each worker count a fresh
database on 127.0.0.1:5432 gets ``--receivers`` subscriptions and a baseline scan; that many
``syndicator run --role deliverer`` processes start and report running; then ``--events``
items appear in one scan (events × receivers deliveries) and the time from that scan until the
store has every delivery settled as delivered is measured (process start-up excluded).
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
from push import _config, _wait, announce, delivered, nginx, prepare

from syndicator.config import with_overrides
from syndicator.store.database import open_engine

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def run(workers: int, events: int, ports: list[int], root: Path) -> float:
    name = f"syndicator_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    config = with_overrides(_config(root), store={"url": url})
    (root / "syndicator.toml").write_text(
        f'[content]\ndirs = ["{root / "_posts"}"]\n[output]\ndir = "{root / "out"}"\n'
        f'[store]\nurl = "{url}"\n[push]\nallow_private_targets = true\n'
    )
    engine = open_engine(url)
    logs = [root / f"deliverer{n}.log" for n in range(workers)]
    try:
        scanner = prepare(config, engine, ports)
        processes = []
        for log in logs:
            with log.open("w") as sink:
                processes.append(
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
                        stderr=sink,
                        cwd=root,
                    )
                )
        try:
            _wait(lambda: all("worker running" in log.read_text() for log in logs), 60)
            started = time.perf_counter()
            announce(scanner, config, events)
            total = events * len(ports)
            _wait(lambda: delivered(engine) >= total, 1800, every=0.05)
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-scale-") as temporary:
        (Path(temporary) / "nginx").mkdir()
        with nginx(args.receivers, Path(temporary) / "nginx") as ports:
            total = args.events * args.receivers
            print(f"{args.events} events × {args.receivers} receivers = {total}, PostgreSQL")
            rates = {}
            for count in (int(w) for w in args.workers.split(",")):
                rates[count] = run(count, args.events, ports, Path(temporary) / f"w{count}")
                print(f"  {count} deliverer process(es): {rates[count]:,.0f} deliveries/s")
            first = min(rates)
            for count, rate in rates.items():
                if count != first:
                    print(f"  {count} vs {first}: {rate / rates[first]:.2f}×")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
