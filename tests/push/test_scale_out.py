"""Several ``syndicator run`` processes on one store: split work, lose nothing.

PostgreSQL is the scale-out store; SQLite takes extra deliverers on one machine too.
"""

from __future__ import annotations

import json
import signal
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from syndicator.push.deliverer import BACKLOG, RUN

from .conftest import publish
from .receivers import Receiver

RECEIVERS = 10


@pytest.fixture
def cluster(postgres_url: str, worker_site) -> tuple[Path, list[Receiver]]:
    """A config on PostgreSQL and ten subscribed receivers."""
    return worker_site(postgres_url, RECEIVERS)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_cluster(request: pytest.FixtureRequest, tmp_path: Path, worker_site):
    """A config on either store and ten subscribed receivers."""
    if request.param == "sqlite":
        return worker_site(f"sqlite:///{tmp_path / 'store' / 'syndicator.db'}", RECEIVERS)
    return request.getfixturevalue("cluster")


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _per_item(receiver: Receiver) -> dict[str, Counter[str]]:
    """item id → how often each webhook-id arrived for it."""
    seen: dict[str, Counter[str]] = {}
    for request in receiver.received:
        item = json.loads(request.body)["data"]["id"]
        seen.setdefault(item, Counter())[request.headers["webhook-id"]] += 1
    return seen


def _utc(value: datetime | str) -> datetime:
    """A stored time as an aware datetime (SQLite hands back text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.astimezone()


def _query(config: Path, sql: str) -> list[Any]:
    """Rows of ``sql`` on the store the processes of ``config`` share."""
    engine = sqlalchemy.create_engine(tomllib.loads(config.read_text())["store"]["url"])
    try:
        with engine.connect() as connection:
            return list(connection.exec_driver_sql(sql))
    finally:
        engine.dispose()


def _settled(config: Path) -> bool:
    """No delivery left to send: after this, nothing more will arrive."""
    return not _query(config, "SELECT id FROM deliveries WHERE status <> 'delivered'")


def _all_arrived(receivers: list[Receiver], count: int) -> bool:
    return all(len(_per_item(r)) >= count for r in receivers)


def test_three_deliverers_one_scanner_exactly_once(any_cluster, start_worker):
    config, receivers = any_cluster
    start_worker(config, "--role", "scanner")
    for _ in range(3):
        start_worker(config, "--role", "deliverer")
    publish(config.parent / "_posts", 500)
    _wait(lambda: _all_arrived(receivers, 500), 120, "not every delivery arrived")
    _wait(lambda: _settled(config), 60, "deliveries left unsettled")
    for receiver in receivers:
        per_item = _per_item(receiver)
        assert len(per_item) == 500
        twice = {item: dict(ids) for item, ids in per_item.items() if list(ids.values()) != [1]}
        assert not twice, f"delivered more than once: {twice}"


def test_a_killed_deliverer_loses_nothing(cluster, start_worker):
    config, receivers = cluster
    start_worker(config, "--role", "scanner")
    victim = start_worker(config, "--role", "deliverer")
    publish(config.parent / "_posts", 500)
    _wait(lambda: sum(len(r.received) for r in receivers) > 500, 60, "deliveries did not start")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    # The only deliverer so far: every row it left claimed is its own.
    held = _query(
        config, "SELECT id, message_id, lease_until FROM deliveries WHERE status = 'delivering'"
    )
    assert held, "the killed deliverer held no claim"
    for _ in range(2):
        start_worker(config, "--role", "deliverer")
    _wait(lambda: _all_arrived(receivers, 500), 180, "not every delivery arrived after the kill")
    _wait(lambda: _settled(config), 60, "deliveries left unsettled")
    ids = ", ".join(str(row.id) for row in held)
    taken_over = {
        row.id: row
        for row in _query(
            config, f"SELECT id, message_id, delivered_at FROM deliveries WHERE id IN ({ids})"
        )
    }
    for row in held:  # sent again only once the lease ended, under the same webhook-id
        assert taken_over[row.id].message_id == row.message_id
        assert _utc(taken_over[row.id].delivered_at) >= _utc(row.lease_until)
    repeats = 0
    for receiver in receivers:
        for ids in _per_item(receiver).values():
            assert len(ids) == 1, "a repeat carried another webhook-id"
            repeats += sum(ids.values()) - 1
    # Only what the killed worker had claimed can come twice: at most its in-flight window
    # (runs of RUN deliveries per thread, BACKLOG rounds ahead, 8 threads).
    assert repeats <= BACKLOG * 8 * RUN


def test_a_standby_scanner_takes_over(cluster, start_worker, run_cli):
    config, receivers = cluster
    first = start_worker(config, "--role", "all")
    second = start_worker(config, "--role", "all")
    log = (config.parent / "worker.log").read_text()
    assert "standing by" in log
    first.send_signal(signal.SIGKILL)
    killed_at = datetime.now().astimezone()
    first.wait()
    _wait(
        lambda: "took over the scanner role" in (config.parent / "worker.log").read_text(),
        30,
        "no takeover",
    )
    # The README's "within a second": one standby poll, plus slack for a loaded machine.
    [line] = [
        line
        for line in (config.parent / "worker.log").read_text().splitlines()
        if "took over the scanner role" in line
    ]
    took_over = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").astimezone()
    assert (took_over - killed_at).total_seconds() < 5
    publish(config.parent / "_posts", 1, prefix="after-kill-")
    _wait(lambda: _all_arrived(receivers, 1), 30, "the new document was not delivered")
    _wait(lambda: _settled(config), 30, "deliveries left unsettled")
    listed = run_cli("events", "list", "--config", str(config), "--json", cwd=config.parent)
    events = json.loads(listed.stdout)
    assert [(e["type"], e["item_key"]) for e in events] == [
        ("item.published", "_posts/after-kill-0.md")
    ]
    for receiver in receivers:
        assert [sum(c.values()) for c in _per_item(receiver).values()] == [1]
    assert second.poll() is None
