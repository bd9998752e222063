"""Readers during a fan-out: does delivery starve the feed server of ``syndicator run``?

Run by hand: ``.venv/bin/python bench/starve.py [--events 100 --receivers 100 --seconds 30]``.
Needs ``nginx`` (cheap webhook receivers) and ``wrk``. Everything is on 127.0.0.1.

``syndicator run`` (role all) serves a site whose subscriptions are nginx answering 204 on
``--receivers`` ports. wrk polls a feed with ``If-None-Match`` on ``--connections``
connections for ``--seconds``: first with the worker idle (the baseline), then while
``--events`` new articles fan out (events × receivers deliveries) and one article is edited
every second. Printed: wrk's latency percentiles, errors and timeouts of both, how many
deliveries arrived during the second run, and whether the pollers' ETag still named the feed
at the end.

The polled feed is ``/categories/quiet/atom.xml``, which neither the new articles nor the
edited one belong to: every poll is answered 304, as for a reader whose feed did not change,
in both runs (polling ``/atom.xml``, which each new article and each edit rewrites, turned
most polls of the second run into full 200 answers, so the two runs did not compare).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import requests
from push import _doc, _free_ports, _wait, delivered, nginx, subscribe

from syndicator.store.database import open_engine

POLLED = "categories/quiet/atom.xml"
QUIET = 10
"""Old articles in the polled feed; the others, the new ones and the edited one are not."""


def article(n: int, *, quiet: bool = False) -> str:
    """An article as bench/push.py writes them; ``quiet`` ones are in the polled feed."""
    text = _doc(n)
    return text.replace("tags:", "categories: [quiet]\ntags:", 1) if quiet else text


def wrk(port: int, etag: str, connections: int, seconds: int) -> str:
    return subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "2s",
            "-H",
            f"If-None-Match: {etag}",
            f"http://127.0.0.1:{port}/{POLLED}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def summary(report: str) -> str:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", report, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+(\S+)", report)
    errors = re.search(r"Socket errors: (.*)", report)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    return (
        f"p50 {percentiles.get('50')}, p99 {percentiles.get('99')}, "
        f"{rate.group(1) if rate else '?'} req/s, errors: {errors.group(1) if errors else 'none'}"
        f", non-2xx/3xx: {non2xx.group(1) if non2xx else 0}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: apt-get install -y {' '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-starve-") as temporary:
        root = Path(temporary)
        (root / "nginx").mkdir()
        posts = root / "_posts"
        posts.mkdir()
        for n in range(20):
            (posts / f"old{n}.md").write_text(article(n, quiet=n >= 20 - QUIET))
        [port] = _free_ports(1)
        url = f"sqlite:///{root / 's.db'}"
        (root / "syndicator.toml").write_text(
            f'[content]\ndirs = ["{posts}"]\n[output]\ndir = "{root / "out"}"\n'
            f'[store]\nurl = "{url}"\n[push]\nallow_private_targets = true\n'
            f"[server]\nport = {port}\n[schedule]\nscan_interval_seconds = 3600\n"
        )
        with nginx(args.receivers, root / "nginx") as ports:
            engine = open_engine(url)
            subscribe(engine, ports)
            log = root / "worker.log"
            with log.open("w") as sink:
                worker = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "syndicator",
                        "run",
                        "--config",
                        str(root / "syndicator.toml"),
                    ],
                    stderr=sink,
                    cwd=root,
                )
            try:
                _wait(lambda: "worker running" in log.read_text(), 60)
                feed = f"http://127.0.0.1:{port}/{POLLED}"
                _wait(lambda: requests.get(feed, timeout=5).status_code == 200, 60)
                etag = requests.get(feed, timeout=5).headers["ETag"]
                print(f"idle:     {summary(wrk(port, etag, args.connections, args.seconds))}")

                stop = threading.Event()

                def edit() -> None:
                    n = 0
                    while not stop.wait(1.0):
                        n += 1
                        (posts / "old0.md").write_text(article(1000 + n))

                for n in range(args.events):
                    (posts / f".new{n}.md").write_text(_doc(n))
                for n in range(args.events):
                    (posts / f".new{n}.md").rename(posts / f"new{n}.md")
                editor = threading.Thread(target=edit)
                editor.start()
                report = wrk(port, etag, args.connections, args.seconds)
                stop.set()
                editor.join()
                done = delivered(engine)
                still = requests.get(feed, timeout=5).headers["ETag"] == etag
                print(f"fan-out:  {summary(report)}")
                print(f"the pollers' ETag still named {POLLED} at the end: {still}")
                print(
                    f"deliveries delivered by the end of the wrk run: {done} of "
                    f"{args.events * args.receivers} (+ one per edit)"
                )
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=60)
                engine.dispose()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
