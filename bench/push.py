"""Push benchmark: file-write → webhook latency, and fan-out throughput against bare loops.

Run by hand: ``.venv/bin/python bench/push.py [--events 200 --receivers 100 --edits 30]``.
Needs ``nginx`` (``apt-get install -y nginx``). Everything listens and sends on 127.0.0.1.

1. Latency: ``syndicator run`` (watch on) in a subprocess, one Python receiver; each of
   ``--edits`` new documents is written and the time until its webhook arrives is recorded.
2. Throughput: nginx answering ``204`` on ``--receivers`` ports is the cheapest receiver this
   machine has, so the sender's own cost is what is measured. ``--events`` documents appear at
   once with one subscription per port (events × receivers deliveries, written by one scan);
   then, in the same run and on the same receivers: a bare ``requests`` loop and a bare
   ``urllib3`` loop (one thread, one kept-alive connection per receiver, the same ~2 KB body,
   no store, no signing), and our deliverer in 1 and in 2 processes (``--processes``) on one
   SQLite store, timed from the end of the scan that wrote the deliveries until the store has
   every one settled delivered (and, printed beside it, from the scan's start).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import urllib3
from nginx_conf import nginx_conf  # bench/nginx_conf.py
from requests.adapters import HTTPAdapter
from sqlalchemy import Engine

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import Config, with_overrides
from syndicator.engine.pipeline import Pipeline
from syndicator.push import counters
from syndicator.push import subscriptions as subs
from syndicator.push.deliverer import Deliverer
from syndicator.push.sender import Outcome
from syndicator.store.database import open_engine

# The http directives and servers of nginx_conf(): format with the same fields.
NGINX_HTTP = """\
    keepalive_requests 1000000;
    client_body_buffer_size 64k;
    server {{
{listen}
        location / {{ return 204; }}
    }}
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@contextmanager
def nginx(count: int, tmp: Path) -> Iterator[list[int]]:
    """nginx answering 204 on ``count`` ports of 127.0.0.1, stopped on the way out."""
    ports = _free_ports(count)
    listen = "\n".join(f"        listen 127.0.0.1:{port};" for port in ports)
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(tmp, NGINX_HTTP.format(listen=listen), connections=4096))
    process = subprocess.Popen(
        ["nginx", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        start_new_session=True,
    )
    try:
        _wait(lambda: _answers(ports[-1]), 20)
        yield ports
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        return requests.post(f"http://127.0.0.1:{port}/", timeout=1).status_code == 204
    except requests.RequestException:
        return False


def _latency_receiver(sock: socket.socket, arrivals: str) -> None:
    """A minimal ASGI app: record each arrival's time and title, answer 204."""
    import uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        with open(arrivals, "a") as out:
            out.write(f"{time.time()} {json.loads(body)['data']['title']}\n")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def latency_receiver(arrivals: Path) -> Iterator[int]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = multiprocessing.get_context("fork").Process(
        target=_latency_receiver, args=(sock, str(arrivals)), daemon=True
    )
    server.start()
    try:
        yield sock.getsockname()[1]
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
        push={"allow_private_targets": True, **push},
    )


def _doc(n: int) -> str:
    return f"---\ntitle: P{n}\ndate: 2024-01-01 10:00:00\ntags: [bench]\n---\n\n{'Text. ' * 300}\n"


def _wait(condition: Callable[[], bool], timeout: float, every: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(every)


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


def subscribe(engine: Engine, ports: list[int]) -> None:
    """One subscription (to everything) per receiver port."""
    with engine.begin() as connection:
        for port in ports:
            subs.add(
                connection,
                subs.new_subscription(
                    f"http://127.0.0.1:{port}/hook", allow_private=True, now=datetime.now(UTC)
                ),
            )


def prepare(config: Config, engine: Engine, ports: list[int]) -> Pipeline:
    """Baseline scan, then one subscription per port."""
    scanner = announcing_pipeline(config, engine, keep_cache=False)
    scanner.scan(datetime.now(UTC))
    subscribe(engine, ports)
    return scanner


def announce(scanner: Pipeline, config: Config, events: int) -> None:
    """``events`` new items, in one scan: events × subscriptions deliveries at once."""
    posts = Path(config.content.dirs[0])
    for n in range(events):
        (posts / f"p{n}.md").write_text(_doc(n))
    scanner.scan(datetime.now(UTC))


def delivered(engine: Engine) -> int:
    """Deliveries settled delivered so far, from the metrics counters (written in the settling
    transaction): a count(*) of delivered rows grows with them (PostgreSQL, 20,000 being
    delivered: 1.4 ms of its CPU a poll, against 0.5 for the counters)."""
    with engine.connect() as connection:
        return counters.attempts_by_outcome(counters.read(connection))[Outcome.DELIVERED]


def wait_delivered(engine: Engine, total: int, timeout: float) -> None:
    """Until ``total`` deliveries are settled delivered. Each poll costs CPU of this process and
    of the store, which the deliverers being measured need when they keep both cores busy: at
    a poll every 20 ms that was 0.06 of a core here and more in PostgreSQL. So the polls are
    spaced by a quarter of the time the rest should take at the rate seen so far (at most
    0.25 s), down to 5 ms near the end: a few dozen polls a run, the end still seen within
    5 ms."""
    started = time.monotonic()
    while (done := delivered(engine)) < total:
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise TimeoutError("benchmark step did not finish in time")
        rest = (total - done) * elapsed / done / 4 if done else 0.05
        time.sleep(min(0.25, max(0.005, rest)))


def _deliver(config: Config, stop: Any) -> None:
    """A deliverer process: delivers until told to stop."""
    engine = open_engine(config.store.url)
    deliverer = Deliverer(config, engine)
    deliverer.start()
    stop.wait()
    deliverer.stop()
    engine.dispose()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ours(root: Path, ports: list[int], events: int, processes: int) -> tuple[float, float, float]:
    """Our deliverer in ``processes`` processes on one SQLite store (forked before any thread
    starts), timed until the store has every delivery settled as delivered: from the end of
    the scan that wrote them (the deliverer's own work, like the bare loops' posts), and from
    its start (the scan is the scanner's work, in another process in ``run``). Returns both
    times, and the CPU seconds the deliverers used (a figure the load of the machine does not
    change much)."""
    config = _config(root)
    engine = open_engine(config.store.url)
    scanner = prepare(config, engine, ports)
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    cpu = _children_cpu()
    workers = [context.Process(target=_deliver, args=(config, stop)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        started = time.perf_counter()
        announce(scanner, config, events)
        written = time.perf_counter()
        total = events * len(ports)
        wait_delivered(engine, total, 3600)
        ended = time.perf_counter()
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    engine.dispose()
    return ended - written, ended - started, _children_cpu() - cpu


BODY = json.dumps(
    {"type": "item.published", "data": {"title": "x", "content_html": "Text. " * 300}}
).encode()


def bare_requests(ports: list[int], total: int) -> tuple[float, float]:
    session = requests.Session()
    # One kept-alive connection per receiver (the default pool keeps 10 hosts).
    session.mount("http://", HTTPAdapter(pool_connections=len(ports)))
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(total):
        answer = session.post(
            f"http://127.0.0.1:{ports[n % len(ports)]}/hook",
            data=BODY,
            headers={"Content-Type": "application/json"},
            timeout=15,
        )
        assert answer.status_code == 204
    return time.perf_counter() - started, time.process_time() - cpu


def bare_urllib3(ports: list[int], total: int) -> tuple[float, float]:
    pools = [urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1) for port in ports]
    headers = {"Content-Type": "application/json"}
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(total):
        answer = pools[n % len(pools)].urlopen(
            "POST", "/hook", body=BODY, headers=headers, timeout=15, retries=False
        )
        assert answer.status == 204
    return time.perf_counter() - started, time.process_time() - cpu


def _line(what: str, total: int, seconds: float, cpu: float) -> None:
    print(
        f"  {what:<24} {seconds:6.2f} s {total / seconds:8,.0f}/s"
        f"   CPU {cpu * 1e6 / total:5.0f} µs per delivery"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--edits", type=int, default=30, help="latency samples (0: skip)")
    parser.add_argument("--only", choices=("ours", "all"), default="all")
    parser.add_argument("--processes", default="1,2", help="deliverer processes to try")
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("missing nginx: apt-get install -y nginx")

    with tempfile.TemporaryDirectory(prefix="syndicator-bench-push-") as temporary:
        root = Path(temporary)
        if args.edits and args.only == "all":
            arrivals = root / "arrivals.txt"
            arrivals.touch()
            with latency_receiver(arrivals) as port:
                samples = latency(root / "latency", port, arrivals, args.edits)
            ms = sorted(s * 1000 for s in samples)
            p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
            print(
                f"latency file write → webhook received, {len(ms)} edits: "
                f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms"
            )
        (root / "nginx").mkdir()
        with nginx(args.receivers, root / "nginx") as ports:
            total = args.events * args.receivers
            print(f"fan-out: {args.events} events × {args.receivers} receivers = {total}")
            if args.only == "all":
                plain, plain_cpu = bare_requests(ports, total)
                bare, bare_cpu = bare_urllib3(ports, total)
                _line("bare requests loop", total, plain, plain_cpu)
                _line("bare urllib3 loop", total, bare, bare_cpu)
            for count in (int(n) for n in args.processes.split(",")):
                mine, with_scan, mine_cpu = ours(root / f"fanout{count}", ports, args.events, count)
                _line(f"ours, {count} process(es)", total, mine, mine_cpu)
                print(f"    with the scan that wrote them: {total / with_scan:,.0f}/s")
                if args.only == "all":
                    print(
                        f"    ours/requests {plain / mine:.2f}×   ours/urllib3 {bare / mine:.2f}×"
                        f" (with the scan {bare / with_scan:.2f}×)"
                        f"   CPU per delivery ours/urllib3 {mine_cpu / bare_cpu:.2f}×"
                    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
