"""``/healthz``, ``/metrics`` and the server's start and stop, over real HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syndicator.store.database import create_store_engine
from syndicator.web.app import create_app
from syndicator.web.server import Server

from .harness import Site, make_config, sites, wait_for


@pytest.fixture
def site(tmp_path, store_url) -> Iterator[Callable[..., Site]]:
    with sites(tmp_path, store_url) as make:
        yield make


def samples(site: Site) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = site.http.get(site.url("/metrics"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_healthz_reports_the_store_and_the_last_scan(site):
    s = site()
    health = s.http.get(s.url("/healthz"))
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["store"] == "ok"
    assert 0 <= body["last_scan_age_seconds"] < 30 and body["scan_stale"] is False


def test_healthz_is_503_when_the_store_is_unreachable(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed}/none?connect_timeout=2"
    config = make_config(tmp_path, url)
    engine = create_store_engine(url)
    server = Server(create_app(config, engine), host="127.0.0.1", port=0)
    server.start()
    try:
        health = httpx.get(f"{server.url}/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        metrics = httpx.get(f"{server.url}/metrics")
        assert metrics.status_code == 200
        assert "syndicator_store_up 0.0" in metrics.text
    finally:
        server.stop()
        engine.dispose()


def test_metrics_count_items_deliveries_attempts_and_subscribers(site):
    s = site(push={"retry_schedule": [0.1]})
    ok, broken = s.subscriber(), s.subscriber()
    broken.post_status = lambda _: 500
    for receiver in (ok, broken):
        s.api("POST", "/subscriptions", json={"url": receiver.callback("/hook")})
    before = samples(s)
    assert before[("syndicator_store_up", ())] == 1
    assert before[("syndicator_items", (("state", "published"),))] == 1
    assert before[("syndicator_delivery_latency_seconds_count", ())] == 0
    assert before[("syndicator_last_scan_timestamp_seconds", ())] > 0

    s.write("second.md", "Second")
    (s.content / "draft.md").write_text("---\ntitle: Draft\npublished: false\n---\nText.\n")
    s.scan()
    wait_for(lambda: {d["status"] for d in s.deliveries()} == {"delivered", "failed"})
    after = samples(s)
    assert after[("syndicator_items", (("state", "published"),))] == 2
    assert after[("syndicator_items", (("state", "draft"),))] == 1
    webhook = (("kind", "webhook"),)
    assert after[("syndicator_deliveries", (*webhook, ("status", "delivered")))] == 1
    assert after[("syndicator_deliveries", (*webhook, ("status", "failed")))] == 1
    assert after[("syndicator_delivery_attempts_total", (("outcome", "delivered"),))] == 1
    assert after[("syndicator_delivery_attempts_total", (("outcome", "failed"),))] == 2
    assert after[("syndicator_delivery_latency_seconds_count", ())] == 3
    assert after[("syndicator_delivery_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert after[("syndicator_delivery_latency_seconds_bucket", (("le", "30.0"),))] == 3
    assert after[("syndicator_delivery_latency_seconds_sum", ())] > 0
    assert after[("syndicator_delivery_queue_depth", ())] == 0
    assert after[("syndicator_websub_subscriptions", ())] == 0


def test_metrics_show_the_queue_of_due_deliveries(tmp_path, store_url):
    s = Site(make_config(tmp_path, store_url)).start(deliver=False)
    try:
        s.api("POST", "/subscriptions", json={"url": s.subscriber().callback("/hook")})
        s.write("second.md", "Second")
        s.scan()
        assert samples(s)[("syndicator_delivery_queue_depth", ())] == 1
    finally:
        s.close()


def test_the_server_stops_cleanly_and_frees_its_port(tmp_path, store_url):
    s = Site(make_config(tmp_path, store_url)).start(deliver=False)
    port = s.server.port
    assert s.http.get(s.url("/healthz")).status_code == 200
    s.close()
    assert not [t for t in threading.enumerate() if t.name in ("http", "websub-verifier")]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()  # nobody else listens there any more


def test_a_port_in_use_is_an_error_not_an_exit(tmp_path, store_url):
    config = make_config(tmp_path, store_url)
    engine = create_store_engine(store_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Server(create_app(config, engine), host="127.0.0.1", port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    engine.dispose()
