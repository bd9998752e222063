"""A site for the contract tests, driven only from outside: its config file, its content
folder, ``syndicator`` commands and ``syndicator run`` processes, HTTP on 127.0.0.1, and SQL
on its store. Nothing here imports the package's internals, so internal rewrites keep these
tests meaningful.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy

TOKEN = "contract-token-0123456789"


def wait_until(condition: Callable[[], object], timeout: float = 120.0, what: str = "") -> None:
    """Until ``condition()`` holds; the timeout is a hang guard, never the thing tested."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not met in time: {what}"
        time.sleep(0.02)


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Hit, int], tuple[int, dict[str, str], bytes]]


def status(code: int) -> Answer:
    return lambda _hit, _n: (code, {}, b"")


OK = status(200)


def echo_challenge(hit: Hit, _n: int) -> tuple[int, dict[str, str], bytes]:
    """A WebSub subscriber: GETs echo ``hub.challenge``, POSTs are taken."""
    if hit.method == "GET":
        return 200, {}, hit.query.get("hub.challenge", "").encode()
    return 200, {}, b""


@dataclass
class Endpoint:
    """An HTTP endpoint on 127.0.0.1 that records every request, then answers ``answer(hit,
    n)`` (n counts the requests so far, this one included)."""

    answer: Answer
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def posts(self) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.method == "POST"]

    def json_posts(self) -> list[dict[str, Any]]:
        return [json.loads(h.body) for h in self.posts()]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        hit = Hit(time.monotonic(), self.command, parts.path, query, dict(self.headers), body)
        endpoint = self.server.endpoint
        with endpoint.lock:
            endpoint.hits.append(hit)
            n = len(endpoint.hits)
        code, headers, payload = endpoint.answer(hit, n)
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read ``Endpoint.hits``."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoint = endpoint
        endpoint.port = self.server_address[1]


@pytest.fixture
def endpoint() -> Iterator[Callable[[Answer], Endpoint]]:
    """``endpoint(answer)`` starts one; all are shut down at the end of the test."""
    servers: list[_Server] = []

    def start(answer: Answer = OK) -> Endpoint:
        servers.append(_Server(Endpoint(answer)))
        threading.Thread(target=servers[-1].serve_forever, args=(0.05,), daemon=True).start()
        return servers[-1].endpoint

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def document(title: str, *, date: str = "2024-05-01 09:00:00", **front: str) -> str:
    lines = "".join(f"{key}: {value}\n" for key, value in front.items())
    return f"---\ntitle: {title}\ndate: {date}\n{lines}---\n\nText of {title}.\n"


@dataclass
class Site:
    root: Path
    store_url: str
    run_cli: Callable[..., Any]
    start_worker: Callable[..., Any]

    @property
    def config(self) -> Path:
        return self.root / "syndicator.toml"

    @property
    def posts(self) -> Path:
        return self.root / "_posts"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def configure(self, **sections: dict[str, object]) -> Site:
        """The config file: these defaults, with ``sections`` merged over them key by key
        (values are written as JSON, which is valid TOML for strings, numbers, booleans and
        lists)."""
        self.posts.mkdir(exist_ok=True)
        settings: dict[str, dict[str, object]] = {
            "site": {"base_url": "https://example.org"},
            "content": {"dirs": [str(self.posts)]},
            "output": {"dir": str(self.out)},
            "store": {"url": self.store_url},
            "schedule": {"scan_interval_seconds": 3600},
            "server": {"port": 0, "api_token": TOKEN},
            "push": {
                "allow_private_targets": True,
                "timeout_seconds": 2,
                "retry_schedule": [0.2, 0.2, 0.2],
            },
        }
        for name, values in sections.items():
            settings[name] = {**settings.get(name, {}), **values}
        self.config.write_text(
            "".join(
                f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                for name, values in settings.items()
            )
        )
        return self

    def write(self, name: str, title: str, **front: str) -> Path:
        """A document that appears in the folder at once (written hidden, then renamed)."""
        hidden = self.posts / f".{name}"
        hidden.write_text(document(title, **front))
        return hidden.rename(self.posts / name)

    def cli(self, *args: str) -> Any:
        command, *rest = args
        if command in {"subscriptions", "deliveries", "events"}:
            return self.run_cli(command, rest[0], "--config", self.config, *rest[1:], cwd=self.root)
        return self.run_cli(command, "--config", self.config, *rest, cwd=self.root)

    def run(self, *args: str) -> Any:
        return self.start_worker(self.config, *args)

    def log(self) -> str:
        return (self.root / "worker.log").read_text()

    def served_at(self) -> str:
        """The URL the last started worker serves on."""
        return re.findall(r"serving (http://\S+)", self.log())[-1]

    def subscribe(self, url: str, *options: str) -> str:
        added = self.cli("subscriptions", "add", url, *options)
        assert added.code == 0, added.stderr
        return dict(line.split(": ", 1) for line in added.stdout.splitlines())["id"]

    def deliveries(self) -> list[dict[str, Any]]:
        listed = self.cli("deliveries", "list", "--json")
        assert listed.code == 0, listed.stderr
        return json.loads(listed.stdout)

    def settled(self, count: int | None = None) -> bool:
        """No delivery waiting or under way (and ``count`` of them, if given): nothing more
        will be sent until a change."""
        found = self.deliveries()
        if count is not None and len(found) != count:
            return False
        return all(d["status"] in ("delivered", "failed", "cancelled") for d in found)

    def sql(self, statement: str, **params: object) -> list[Any]:
        engine = sqlalchemy.create_engine(self.store_url)
        try:
            with engine.begin() as connection:
                result = connection.execute(sqlalchemy.text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


@pytest.fixture
def site(tmp_path: Path, run_cli, start_worker) -> Site:
    """A site on SQLite (``site_on`` gives one on another store)."""
    store = f"sqlite:///{tmp_path / 'var' / 'syndicator.db'}"
    return Site(tmp_path, store, run_cli, start_worker).configure()


@pytest.fixture
def any_site(tmp_path: Path, store_url: str, run_cli, start_worker) -> Site:
    """A site on SQLite and on PostgreSQL."""
    return Site(tmp_path, store_url, run_cli, start_worker).configure()
