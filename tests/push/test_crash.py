"""A worker killed with SIGKILL mid fan-out loses nothing: at least once, same webhook-id."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler

from .receivers import Receiver, reply

EVENTS = 200
RECEIVERS = 5


def _slow_ok(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
    time.sleep(0.02)
    reply(200)(handler, receiver)


def test_sigkill_during_fan_out_loses_no_delivery(tmp_path, serve, run_cli, start_worker):
    posts = tmp_path / "_posts"
    posts.mkdir()
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f"""
[site]
base_url = "https://example.org"
[content]
dirs = ["{posts}"]
[output]
dir = "{tmp_path / "out"}"
[store]
url = "sqlite:///{tmp_path / "s.db"}"
[schedule]
scan_interval_seconds = 3600
[push]
allow_private_targets = true
max_concurrency = 8
retry_schedule = [0.5, 0.5, 0.5, 0.5]
"""
    )
    receivers = [serve(_slow_ok) for _ in range(RECEIVERS)]
    for receiver in receivers:
        added = run_cli(
            "subscriptions", "add", "--config", str(config), receiver.url(), cwd=tmp_path
        )
        assert added.code == 0, added.stderr

    worker = start_worker(config)
    for n in range(EVENTS):
        (posts / f".p{n}.md").write_text(f"---\ntitle: P{n}\ndate: 2024-01-01\n---\nText {n}.\n")
    for n in range(EVENTS):  # appear at once: one scan, one fan-out of 1,000 deliveries
        (posts / f".p{n}.md").rename(posts / f"p{n}.md")

    deadline = time.monotonic() + 20
    while sum(len(r.received) for r in receivers) < 100:
        assert time.monotonic() < deadline, "deliveries did not start"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    delivered_before = sum(len(r.received) for r in receivers)
    assert delivered_before < EVENTS * RECEIVERS, "the kill came too late to test anything"

    restarted = start_worker(config)
    try:
        deadline = time.monotonic() + 60
        while not all(
            len({r.headers["webhook-id"] for r in x.received}) == EVENTS for x in receivers
        ):
            assert time.monotonic() < deadline, "not every delivery arrived after the restart"
            time.sleep(0.05)
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0

    for receiver in receivers:
        ids_by_item: dict[str, set[str]] = defaultdict(set)
        for request in receiver.received:
            item = json.loads(request.body)["data"]["id"]
            ids_by_item[item].add(request.headers["webhook-id"])
        assert len(ids_by_item) == EVENTS
        assert all(len(ids) == 1 for ids in ids_by_item.values()), "a repeat changed webhook-id"
