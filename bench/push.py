"""Push benchmark: file-write → webhook latency, and fan-out throughput against a bare loop.

Run by hand: ``.venv/bin/python bench/push.py [--events 2000 --receivers 100 --edits 50]``.
Everything listens and sends on 127.0.0.1 only, and every loop is bounded.

1. Latency: ``syndicator run`` (watch on) in a subprocess, one receiver; each of ``--edits``
   new documents is written and the time until its webhook arrives is recorded (p50, p95).
2. Throughput: ``--events`` documents appear at once in a folder with ``--receivers``
   subscriptions (each wants everything), so the scan writes events × receivers deliveries;
   the deliverer's time to deliver them all, against a bare ``requests`` loop (one session
   keeping a connection alive to every receiver, no store, no signing) posting the same number
   of bodies, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import Config, with_overrides
from syndicator.push import subscriptions as subs
from syndicator.push.deliverer import Deliverer
from syndicator.store.database import open_engine


def _receivers(sockets: list[socket.socket], counter: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    """A minimal ASGI app on every socket: count, record arrival times, answer 204."""
    import uvicorn

    arrivals = Path(os.environ["ARRIVALS"])

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        with counter.get_lock():
            counter.value += 1
        if scope["path"] == "/latency":
            with arrivals.open("a") as out:
                out.write(f"{time.time()} {json.loads(body)['data']['title']}\n")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=sockets)


def _listen(count: int) -> list[socket.socket]:
    result = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        result.append(sock)
    return result


@contextmanager
def receivers(count: int, arrivals: Path) -> Iterator[tuple[list[int], Any]]:
    """``count`` receivers in a child process: (their ports, the shared delivery counter)."""
    os.environ["ARRIVALS"] = str(arrivals)
    sockets = _listen(count)
    counter = multiprocessing.Value("q", 0)
    server = multiprocessing.get_context("fork").Process(
        target=_receivers, args=(sockets, counter), daemon=True
    )
    server.start()
    try:
        yield [s.getsockname()[1] for s in sockets], counter
    finally:
        server.terminate()
        server.join()


def _config(root: Path, **push: object) -> Config:
    (root / "_posts").mkdir(parents=True, exist_ok=True)
    return with_overrides(
        Config(),
        content={"dirs": [str(root / "_posts")]},
        output={"dir": str(root / "out")},
        store={"url": f"sqlite:///{root / 's.db'}"},
        push={"allow_private_targets": True, "max_concurrency": 16, **push},
    )


def _doc(n: int) -> str:
    return f"---\ntitle: P{n}\ndate: 2024-01-01 10:00:00\ntags: [bench]\n---\n\n{'Text. ' * 300}\n"


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(0.005)


def latency(root: Path, port: int, arrivals: Path, edits: int) -> list[float]:
    config = _config(root)
    (root / "syndicator.toml").write_text(
        f'[content]\ndirs = ["{root / "_posts"}"]\n[output]\ndir = "{root / "out"}"\n'
        f'[store]\nurl = "sqlite:///{root / "s.db"}"\n[push]\nallow_private_targets = true\n'
        "[schedule]\nscan_interval_seconds = 3600\n[server]\nport = 0\n"
    )
    engine = open_engine(config.store.url)
    with engine.begin() as connection:
        subs.add(
            connection,
            subs.new_subscription(
                f"http://127.0.0.1:{port}/latency", allow_private=True, now=datetime.now(UTC)
            ),
        )
    engine.dispose()
    log = root / "worker.log"
    with log.open("w") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "run", "--config", str(root / "syndicator.toml")],
            stderr=sink,
            cwd=root,
        )
    try:
        _wait(lambda: "worker running" in log.read_text(), 60)
        samples = []
        for n in range(edits):
            (root / "_posts" / f"p{n}.md").write_text(_doc(n))
            written = time.time()
            _wait(lambda n=n: f" P{n}\n" in arrivals.read_text(), 10)
            line = next(x for x in arrivals.read_text().splitlines() if x.endswith(f" P{n}"))
            samples.append(float(line.split()[0]) - written)
            time.sleep(0.1)
        return samples
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def fill_outbox(config: Config, engine, ports: list[int], events: int) -> int:
    """Baseline scan, one subscription per port, then ``events`` new items in one scan."""
    scanner = announcing_pipeline(config, engine, keep_cache=False)
    scanner.scan(datetime.now(UTC))
    with engine.begin() as connection:
        for port in ports:
            subs.add(
                connection,
                subs.new_subscription(
                    f"http://127.0.0.1:{port}/hook", allow_private=True, now=datetime.now(UTC)
                ),
            )
    posts = Path(config.content.dirs[0])
    for n in range(events):
        (posts / f"p{n}.md").write_text(_doc(n))
    scanner.scan(datetime.now(UTC))
    return events * len(ports)


def fan_out(root: Path, ports: list[int], events: int, counter) -> tuple[int, float]:
    config = _config(root)
    engine = open_engine(config.store.url)
    total = fill_outbox(config, engine, ports, events)
    start_count = counter.value
    deliverer = Deliverer(config, engine, sole_deliverer=True)
    started = time.perf_counter()
    deliverer.start()
    _wait(lambda: counter.value - start_count >= total, 3600)
    elapsed = time.perf_counter() - started
    deliverer.stop()
    engine.dispose()
    return total, elapsed


def bare_loop(ports: list[int], total: int, counter) -> float:
    body = json.dumps(
        {"type": "item.published", "data": {"title": "x", "content_html": "Text. " * 300}}
    ).encode()
    session = requests.Session()
    # One kept-alive connection per receiver: the default pool keeps 10 hosts, and cycling
    # through more would open a connection for every post, a baseline slower than it should be.
    session.mount("http://", HTTPAdapter(pool_connections=len(ports)))
    start_count = counter.value
    started = time.perf_counter()
    for n in range(total):
        session.post(
            f"http://127.0.0.1:{ports[n % len(ports)]}/hook",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=15,
        )
    elapsed = time.perf_counter() - started
    assert counter.value - start_count == total
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="syndicator-bench-push-") as temporary:
        root = Path(temporary)
        arrivals = root / "arrivals.txt"
        arrivals.touch()
        with receivers(args.receivers + 1, arrivals) as (ports, counter):
            samples = latency(root / "latency", ports[0], arrivals, args.edits)
            ms = sorted(s * 1000 for s in samples)
            p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
            print(
                f"latency file write → webhook received, {len(ms)} edits: p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"
            )

            total, ours = fan_out(root / "fanout", ports[1:], args.events, counter)
            bare = bare_loop(ports[1:], total, counter)
            print(
                f"fan-out: {args.events} events × {args.receivers} receivers = {total} deliveries"
            )
            print(f"  syndicator deliverer: {ours:.1f} s, {total / ours:,.0f} deliveries/s")
            print(f"  bare requests loop:   {bare:.1f} s, {total / bare:,.0f} posts/s")
            print(f"  ratio ours/bare: {bare / ours:.2f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
