"""Fixtures of the push tests: receivers on 127.0.0.1, and a tripwire on outside traffic."""

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert

from syndicator.store.schema import websub_subscriptions

from .receivers import CERT, KEY, Receiver, Respond, Server, reply


@pytest.fixture
def serve() -> Iterator[Callable[..., Receiver]]:
    """Start a receiver: `serve(respond)` for HTTP, `serve(respond, tls=True)` for HTTPS."""
    servers: list[Server] = []

    def start(respond: Respond, *, tls: bool = False) -> Receiver:
        server = Server(respond)
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(CERT, KEY)
            names = server.receiver.server_names
            context.sni_callback = lambda _sock, name, _context: names.append(name)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.receiver.scheme = "https"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.receiver

    yield start
    for server in servers:
        server.receiver.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every address a socket connects to during the test; a connection to anything but
    loopback fails the test before it leaves the machine."""
    seen: list[object] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: object) -> None:
        seen.append(address)
        host = address[0] if isinstance(address, tuple) else None
        if host is None or not ipaddress.ip_address(host).is_loopback:
            pytest.fail(f"a connection to {address!r} was attempted")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def slow_ok(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
    """A receiver that takes 20 ms per delivery, so a fan-out lasts long enough to interrupt."""
    time.sleep(0.02)
    reply(200)(handler, receiver)


@pytest.fixture
def worker_site(
    tmp_path: Path, serve, run_cli
) -> Callable[[str, int], tuple[Path, list[Receiver]]]:
    """``worker_site(store_url, receivers)``: a config for ``syndicator run`` processes with a
    content folder, short retries and timeout, and that many slow subscribed receivers."""

    def make(store_url: str, count: int) -> tuple[Path, list[Receiver]]:
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
url = "{store_url}"
[schedule]
scan_interval_seconds = 3600
[server]
port = 0
[push]
allow_private_targets = true
max_concurrency = 8
timeout_seconds = 2
retry_schedule = [0.5, 0.5, 0.5, 0.5]
"""
        )
        receivers = [serve(slow_ok) for _ in range(count)]
        for receiver in receivers:
            added = run_cli(
                "subscriptions", "add", "--config", str(config), receiver.url(), cwd=tmp_path
            )
            assert added.code == 0, added.stderr
        return config, receivers

    return make


def publish(posts: Path, count: int, prefix: str = "p") -> None:
    """``count`` documents that appear in the folder at once (written hidden, then renamed)."""
    for n in range(count):
        (posts / f".{prefix}{n}.md").write_text(
            f"---\ntitle: {prefix}{n}\ndate: 2024-01-01\n---\nText {n}.\n"
        )
    for n in range(count):
        (posts / f".{prefix}{n}.md").rename(posts / f"{prefix}{n}.md")


def websub_subscriber(
    connection: Connection, subscription_id: str, created: datetime, expires: datetime
) -> None:
    """A WebSub subscription row of the feed ``atom.xml``, as a verified request makes it."""
    connection.execute(
        insert(websub_subscriptions).values(
            id=subscription_id,
            path="atom.xml",
            topic="https://example.org/atom.xml",
            callback="http://127.0.0.1:9100/",
            secret="",
            lease_seconds=int((expires - created).total_seconds()),
            expires_at=expires,
            created_at=created,
            renewed_at=created,
        )
    )
