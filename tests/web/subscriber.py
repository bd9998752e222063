"""A real WebSub subscriber on 127.0.0.1: answers the hub's verification GETs as a test tells
it to, and records every content distribution POST."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

Answer = Callable[[dict[str, str]], tuple[int, bytes]]
"""What to answer a verification GET, from its query parameters: (status, body)."""


def echo(params: dict[str, str]) -> tuple[int, bytes]:
    """A subscriber that means it: 200 with the challenge."""
    return 200, params.get("hub.challenge", "").encode()


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Subscriber:
    port: int
    answer: Answer = echo
    post_status: Callable[[int], int] = lambda _: 200
    verifications: list[Request] = field(default_factory=list)
    posts: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def callback(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, what: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, "the subscriber waited in vain"
            time.sleep(0.02)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        request = self._request()
        with self.server.subscriber.lock:
            self.server.subscriber.verifications.append(request)
        self._reply(*self.server.subscriber.answer(request.query))

    def do_POST(self) -> None:
        request = self._request()
        subscriber = self.server.subscriber
        with subscriber.lock:
            subscriber.posts.append(request)
            status = subscriber.post_status(len(subscriber.posts))
        self._reply(status, b"")

    def _request(self) -> Request:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return Request(parts.path, query, dict(self.headers.items()), body)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read what happened from the Subscriber."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.subscriber = Subscriber(port=self.server_address[1])


class Subscribers:
    """Starts subscribers, and stops them all at the end."""

    def __init__(self) -> None:
        self._servers: list[_Server] = []

    def start(self, answer: Answer = echo) -> Subscriber:
        server = _Server()
        server.subscriber.answer = answer
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._servers.append(server)
        return server.subscriber

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
