"""A worker killed with SIGKILL mid fan-out loses nothing: at least once, same webhook-id."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict

from .conftest import publish

EVENTS = 200
RECEIVERS = 5


def test_sigkill_during_fan_out_loses_no_delivery(tmp_path, worker_site, start_worker):
    config, receivers = worker_site(f"sqlite:///{tmp_path / 's.db'}", RECEIVERS)
    worker = start_worker(config)
    publish(tmp_path / "_posts", EVENTS)  # one scan, one fan-out of 1,000 deliveries

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
