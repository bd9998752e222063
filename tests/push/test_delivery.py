"""Webhook delivery end to end: scan → events → outbox → real receivers on 127.0.0.1.

Runs on SQLite and on PostgreSQL. Receivers verify every request with the reference
``standardwebhooks`` implementation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import Config, with_overrides
from syndicator.push import history
from syndicator.push import subscriptions as subs
from syndicator.push.deliverer import Deliverer
from syndicator.push.guard import TargetRefused
from syndicator.store.database import open_engine

from .receivers import Receiver, reply


def _config(tmp_path: Path, store_url: str, **push: object) -> Config:
    (tmp_path / "_posts").mkdir(exist_ok=True)
    return with_overrides(
        Config(),
        site={"base_url": "https://example.org"},
        content={"dirs": [str(tmp_path / "_posts")]},
        output={"dir": str(tmp_path / "out")},
        store={"url": store_url},
        push={"allow_private_targets": True, "timeout_seconds": 2, **push},
    )


def _doc(
    tmp_path: Path, name: str, *, categories: str = "[]", tags: str = "[]", draft: bool = False
) -> None:
    published = "published: false\n" if draft else ""
    (tmp_path / "_posts" / name).write_text(
        f"---\ntitle: {name}\ndate: 2024-05-01 09:00:00\ncategories: {categories}\n"
        f"tags: {tags}\n{published}---\n\nText of {name}.\n"
    )


class Site:
    """A store, a scanner and a running deliverer, as ``syndicator run`` holds them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = open_engine(config.store.url)
        self.scanner = announcing_pipeline(config, self.engine)
        self.deliverer = Deliverer(config, self.engine, sole_deliverer=True)
        self.clock = datetime(2025, 1, 1, tzinfo=UTC)

    def subscribe(self, url: str, **filters: object) -> subs.Subscription:
        subscription = subs.new_subscription(url, allow_private=True, now=self.clock, **filters)
        with self.engine.begin() as connection:
            subs.add(connection, subscription)
        return subscription

    def scan(self) -> None:
        self.clock = datetime.now(UTC)
        result = self.scanner.scan(self.clock)
        if result.events:
            self.deliverer.wake()

    def deliveries(self, limit: int = history.DEFAULT_PAGE) -> list[dict[str, object]]:
        with self.engine.connect() as connection:
            return [asdict(d) for d in history.list_deliveries(connection, limit=limit)]


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[Callable[..., Site]]:
    made: list[Site] = []

    def make(**push: object) -> Site:
        made.append(Site(_config(tmp_path, store_url, **push)))
        made[-1].scan()  # the baseline
        made[-1].deliverer.start()
        return made[-1]

    yield make
    for one in made:
        one.deliverer.stop()
        one.engine.dispose()


def _wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _verified(receiver: Receiver, secret: str) -> list[dict[str, object]]:
    """Every body the receiver got, each checked with the reference implementation."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in receiver.received]


def test_each_matching_event_arrives_once_signed_and_filtered(site, tmp_path, serve):
    s = site()
    everything = serve(reply(200))
    news = serve(reply(204))
    paris = serve(reply(200))
    updates = serve(reply(200))
    sub_all = s.subscribe(everything.url())
    sub_news = s.subscribe(news.url(), categories=["News"])
    sub_paris = s.subscribe(paris.url(), tags=["paris"])
    sub_updates = s.subscribe(updates.url(), event_types=["item.updated"])

    _doc(tmp_path, "a.md", categories="[News]", tags="[Lyon]")
    _doc(tmp_path, "b.md", categories="[Sport]", tags="[Paris]")
    _doc(tmp_path, "c.md", categories="[Sport]")
    _doc(tmp_path, "d.md", draft=True)
    s.scan()
    # Every delivery is fanned out by the scan; once all are settled, nothing more will come.
    _wait(lambda: all(d["status"] == "delivered" for d in s.deliveries()))

    bodies = _verified(everything, sub_all.secret)
    assert sorted(b["data"]["title"] for b in bodies) == ["a.md", "b.md", "c.md"]
    assert [b["data"]["title"] for b in _verified(news, sub_news.secret)] == ["a.md"]
    assert [b["data"]["title"] for b in _verified(paris, sub_paris.secret)] == ["b.md"]
    assert updates.received == []
    for body in bodies:
        assert set(body) == {"type", "timestamp", "data"}
        assert body["type"] == "item.published"
        datetime.fromisoformat(body["timestamp"])
        item = body["data"]
        assert {"id", "url", "title", "content_html", "date_published"} <= set(item)
        assert set(item["_syndicator"]) == {"categories", "tags"}
    assert {tuple(b["data"]["_syndicator"]["tags"]) for b in bodies} == {("lyon",), ("paris",), ()}
    ids = [r.headers["webhook-id"] for r in everything.received]
    assert len(set(ids)) == 3

    _doc(tmp_path, "a.md", categories="[News]", tags="[Lyon, Marseille]")
    s.scan()
    _wait(lambda: len(updates.received) == 1)
    assert _verified(updates, sub_updates.secret)[0]["type"] == "item.updated"
    assert len(everything.received) == 3  # item.updated is not among its event types


def _fails_then_succeeds(failures: int) -> Callable[[BaseHTTPRequestHandler, Receiver], None]:
    def respond(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        status = 500 if len(receiver.received) <= failures else 200
        reply(status)(handler, receiver)

    return respond


def test_retried_after_failures_with_the_same_webhook_id(site, tmp_path, serve):
    s = site(retry_schedule=[0.2, 0.2, 0.2])
    flaky = serve(_fails_then_succeeds(2))
    subscription = s.subscribe(flaky.url())
    _doc(tmp_path, "a.md")
    s.scan()
    _wait(lambda: len(flaky.received) == 3)
    _wait(lambda: s.deliveries()[0]["status"] == "delivered")
    assert len({r.headers["webhook-id"] for r in flaky.received}) == 1
    _verified(flaky, subscription.secret)
    [delivery] = s.deliveries()
    assert delivery["attempts"] == 3
    assert [a["status"] for a in delivery["log"]] == [500, 500, 200]


def test_exhausted_schedule_is_a_dead_letter_that_can_be_replayed(site, tmp_path, serve):
    s = site(retry_schedule=[0.1])
    broken = serve(_fails_then_succeeds(2))
    s.subscribe(broken.url())
    _doc(tmp_path, "a.md")
    s.scan()
    _wait(lambda: s.deliveries()[0]["status"] == "failed")
    assert len(broken.received) == 2
    with s.engine.begin() as connection:
        assert history.replay(connection, s.deliveries()[0]["id"], datetime.now(UTC)) is None
    s.deliverer.wake()
    _wait(lambda: s.deliveries()[0]["status"] == "delivered")
    assert len({r.headers["webhook-id"] for r in broken.received}) == 1


def test_410_disables_the_subscription(site, tmp_path, serve):
    s = site()
    gone = serve(reply(410))
    subscription = s.subscribe(gone.url())
    _doc(tmp_path, "a.md")
    s.scan()
    _wait(lambda: s.deliveries()[0]["status"] == "failed")
    with s.engine.connect() as connection:
        stored = subs.get(connection, subscription.id)
    assert stored is not None and not stored.enabled
    assert "410" in (stored.disabled_reason or "")
    marker = serve(reply(200))
    s.subscribe(marker.url())
    _doc(tmp_path, "b.md")
    s.scan()
    # The marker got b.md and nothing is left to send: b.md was never queued for `gone`.
    _wait(lambda: len(marker.received) == 1)
    _wait(lambda: all(d["status"] in ("delivered", "failed") for d in s.deliveries()))
    assert len(gone.received) == 1


@pytest.mark.parametrize(
    ("healthy_count", "documents", "threads"),
    [
        (20, 3, 16),
        # Four threads: the dead endpoint's claimed deliveries (its cap, a quarter of the
        # window) hold two of them, and claims of half the window must still come for the rest.
        (4, 40, 4),
    ],
)
def test_a_dead_endpoint_does_not_delay_healthy_ones(
    site, tmp_path, serve, healthy_count, documents, threads
):
    from .receivers import never_answer

    s = site(timeout_seconds=10, max_concurrency=threads)
    dead = serve(never_answer)
    s.subscribe(dead.url())
    healthy = [serve(reply(200)) for _ in range(healthy_count)]
    for receiver in healthy:
        s.subscribe(receiver.url())
    for n in range(documents):
        _doc(tmp_path, f"p{n}.md")
    s.scan()
    # Every healthy delivery settles while the dead endpoint's first request is still
    # unanswered (it answers only at teardown; its timeout is 10 s): they never waited for it.
    total = healthy_count * documents
    _wait(
        lambda: sum(d["status"] == "delivered" for d in s.deliveries(total + documents)) == total,
        timeout=60,
    )
    stuck = [d for d in s.deliveries(total + documents) if d["url"] == dead.url()]
    assert len(dead.received) >= 1
    assert [d["attempts"] for d in stuck] == [0] * documents


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
    ],
)
def test_private_targets_are_refused_when_not_allowed(url, tmp_path, store_url, connects):
    with pytest.raises(TargetRefused, match="refused"):
        subs.new_subscription(url, allow_private=False, now=datetime.now(UTC))
    assert connects == []


def test_private_target_refused_at_delivery_time(tmp_path, store_url, serve):
    receiver = serve(reply(200))
    config = _config(tmp_path, store_url, allow_private_targets=False)
    engine = open_engine(store_url)
    scanner = announcing_pipeline(config, engine)
    scanner.scan(datetime.now(UTC))
    # Subscribed while private targets were allowed (or DNS changed since): refused on sending.
    subscription = subs.new_subscription(receiver.url(), allow_private=True, now=datetime.now(UTC))
    with engine.begin() as connection:
        subs.add(connection, subscription)
    deliverer = Deliverer(config, engine, sole_deliverer=True)
    deliverer.start()
    try:
        _doc(tmp_path, "a.md")
        scanner.scan(datetime.now(UTC))
        deliverer.wake()
        with engine.connect() as connection:
            _wait(lambda: history.list_deliveries(connection)[0].attempts >= 1)
            [delivery] = [asdict(d) for d in history.list_deliveries(connection)]
        assert receiver.received == []
        assert "loopback" in delivery["log"][0]["error"]
    finally:
        deliverer.stop()
        engine.dispose()


def test_cli_add_list_remove(tmp_path, store_url, run_cli):
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n[push]\nallow_private_targets = true\n')

    def cli(*args: str):
        return run_cli(*args, cwd=tmp_path)

    added = cli(
        "subscriptions",
        "add",
        "--config",
        str(config),
        "http://127.0.0.1:9/h",
        "--tag",
        "Open Data",
    )
    assert added.code == 0
    lines = dict(line.split(": ", 1) for line in added.stdout.splitlines())
    assert lines["secret"].startswith("whsec_")
    listed = json.loads(cli("subscriptions", "list", "--config", str(config), "--json").stdout)
    assert [(s["id"], s["tags"]) for s in listed] == [(lines["id"], ["open-data"])]
    assert "secret" not in listed[0]
    assert cli("subscriptions", "remove", "--config", str(config), lines["id"]).code == 0
    assert json.loads(cli("subscriptions", "list", "--config", str(config), "--json").stdout) == []
    refused = cli("subscriptions", "add", "--config", str(config), "ftp://example.org/x")
    assert refused.code == 2
