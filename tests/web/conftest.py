"""Real uvicorn servers on 127.0.0.1, one thread each, for tests that talk HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from starlette.types import ASGIApp

Serve = Callable[[ASGIApp], str]
"""``serve(app)`` starts ``app`` and returns its base URL, ``http://127.0.0.1:<port>``."""


def _start(app: ASGIApp) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Bind first and hand the socket over, so the port is known without a race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Every server started in a test is stopped when the test ends, pass or fail."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: ASGIApp) -> str:
        server, thread, port = _start(app)
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, _ in running:
        server.should_exit = True
    for _, thread in running:
        thread.join(timeout=10)
