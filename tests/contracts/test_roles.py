"""``syndicator run`` roles as processes (README "Deployment"): the web role on its own,
WebSub through a running worker, a killed SQLite deliverer's rows taken over at lease end,
and a scheduled item whose time passed while the worker was down."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import feedparser
import httpx

from .conftest import TOKEN, Site, echo_challenge, wait_until


def _titles(site: Site) -> list[str]:
    feed = site.out / "rss.xml"
    return [e.title for e in feedparser.parse(feed.read_bytes()).entries] if feed.exists() else []


def test_the_web_role_serves_without_scanning_or_locking(site: Site):
    site.configure(worker={"role": "web"})
    site.write("a.md", "A")
    assert site.cli("build").code == 0
    web = site.run()
    assert "worker running (web)" in site.log()
    url = site.served_at()
    assert [
        e.title for e in feedparser.parse(httpx.get(f"{url}/rss.xml", timeout=120).content).entries
    ] == ["A"]
    assert httpx.get(f"{url}/healthz", timeout=120).status_code == 200
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/api/subscriptions", headers=auth, timeout=120).status_code == 200
    # It holds no scanner lock: a build runs beside it, and what it writes is served.
    site.write("b.md", "B")
    assert site.cli("build").code == 0
    wait_until(
        lambda: len(feedparser.parse(httpx.get(f"{url}/rss.xml", timeout=120).content).entries) == 2
    )
    assert web.poll() is None


def test_websub_through_a_running_worker(site: Site, endpoint):
    subscriber = endpoint(echo_challenge)
    site.write("first.md", "First")
    site.run()
    url = site.served_at()
    answer = httpx.post(
        f"{url}/hub",
        timeout=120,
        data={
            "hub.mode": "subscribe",
            "hub.topic": "https://example.org/rss.xml",
            "hub.callback": subscriber.url("/callback"),
        },
    )
    assert answer.status_code == 202
    wait_until(lambda: [h for h in subscriber.hits if h.method == "GET"], what="verification")
    wait_until(lambda: site.sql("SELECT id FROM websub_subscriptions"), what="verified")
    site.write("second.md", "Second")
    wait_until(lambda: subscriber.posts(), what="content distribution")
    wait_until(site.settled)
    [post] = subscriber.posts()
    assert post.body == (site.out / "rss.xml").read_bytes()
    assert b"Second" in post.body
    [delivery] = json.loads(site.cli("deliveries", "list", "--json").stdout)
    assert (delivery["kind"], delivery["topic"]) == ("websub", "https://example.org/rss.xml")
    assert delivery["event_type"] is None and delivery["status"] == "delivered"
    listed = site.cli("deliveries", "list").stdout
    assert "websub https://example.org/rss.xml" in listed


def _stamp(value: object) -> datetime:
    """A time stored in SQLite (naive UTC text) as an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_killed_sqlite_deliverers_rows_are_taken_over_at_lease_end(site: Site, endpoint):
    def slow_ok(_hit, _n):
        time.sleep(0.05)
        return 200, {}, b""

    slow = endpoint(slow_ok)
    site.subscribe(slow.url())
    site.configure(push={"max_concurrency": 4})
    site.run("--role", "scanner")
    victim = site.run("--role", "deliverer")
    for n in range(40):
        site.write(f"p{n}.md", f"P{n}")
    wait_until(lambda: len(slow.posts()) >= 3, what="deliveries started")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    held = site.sql(
        "SELECT id, message_id, lease_until FROM deliveries WHERE status = 'delivering'"
    )
    assert held, "the killed deliverer held no claim"
    site.run("--role", "deliverer")  # not the sole deliverer: it waits for the leases
    wait_until(lambda: site.settled(40), timeout=180, what="every delivery settled")
    ids = ",".join(str(row.id) for row in held)
    after = {
        r.id: r
        for r in site.sql(
            f"SELECT id, message_id, status, delivered_at FROM deliveries WHERE id IN ({ids})"
        )
    }
    for row in held:
        assert after[row.id].status == "delivered"
        assert after[row.id].message_id == row.message_id
        assert _stamp(after[row.id].delivered_at) >= _stamp(row.lease_until)
    sent = {h.headers["webhook-id"] for h in slow.posts()}
    assert len(sent) == 40


def test_a_scheduled_item_due_while_the_worker_was_down_is_announced_at_restart(
    site: Site, endpoint
):
    hook = endpoint()
    site.subscribe(hook.url())
    worker = site.run()
    due = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    site.write("soon.md", "Soon", date=due.isoformat())
    site.write("marker.md", "Marker")  # once announced, soon.md was scanned too
    wait_until(lambda: [b["data"]["title"] for b in hook.json_posts()] == ["Marker"])
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=120) == 0
    # Stopped before its time: known to the store as scheduled, not in the feeds.
    assert site.sql("SELECT state FROM items WHERE key LIKE '%soon.md'")[0].state == "scheduled"
    assert "Soon" not in _titles(site)
    wait_until(lambda: datetime.now(UTC) > due, what="its time passed")
    site.run()
    wait_until(lambda: len(hook.posts()) == 2, what="the restart announced it")
    assert [b["data"]["title"] for b in hook.json_posts()] == ["Marker", "Soon"]
    assert "Soon" in _titles(site)
    events = json.loads(site.cli("events", "list", "--json").stdout)
    assert [e["type"] for e in events] == ["item.published", "item.published"]
