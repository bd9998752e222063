"""uvicorn in a background thread with a clean stop, for ``syndicator run --role all|web``.

``start`` returns once the socket listens and the app's lifespan has started (or raises), and
``stop`` returns once requests under way are answered (``GRACE_SECONDS`` at most), the lifespan
has stopped and the socket is closed, so a worker can stop its roles in order.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

START_SECONDS = 30
GRACE_SECONDS = 10


class Server:
    def __init__(self, app: ASGIApp, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            lifespan="on",
            # The process's logging is the worker's; one line per feed request is not wanted.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Listen on ``host``:``port`` (port 0: any free one, then read ``port``)."""
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the HTTP server did not start on {self.url}; see the log")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()


def _bind(host: str, port: int) -> socket.socket:
    """Bound here rather than by uvicorn, which exits the process when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
