"""Real HTTP(S) receivers on 127.0.0.1 for the push tests, and the responders they run.

The certificate in certs/ is a self-signed one for `localhost`, valid until 2126, made with
`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
-subj /CN=localhost -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:TRUE`.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CERTS = Path(__file__).parent / "certs"
CERT = CERTS / "localhost-cert.pem"
KEY = CERTS / "localhost-key.pem"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What a test receiver saw; `release` lets handlers that stall finish at teardown."""

    port: int
    scheme: str = "http"
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


Respond = Callable[[BaseHTTPRequestHandler, Receiver], None]


def reply(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Respond:
    """A responder answering `status` with a complete, keep-alive-friendly response."""

    def respond(handler: BaseHTTPRequestHandler, _: Receiver) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def trickle(head: bytes, then: bytes, every: float = 0.1) -> Respond:
    """A responder sending `head` at once, then `then` one byte per `every` seconds: each read
    gets a byte well within any per-read timeout, and the whole takes len(then) * every."""

    def respond(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        handler.close_connection = True
        handler.wfile.write(head)
        for byte in then:
            if receiver.release.wait(every):
                return
            handler.wfile.write(bytes([byte]))

    return respond


def never_answer(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
    """A responder that reads the request and then says nothing until teardown."""
    handler.close_connection = True
    receiver.release.wait(30)


class Handler(BaseHTTPRequestHandler):
    """Records each request, then lets the responder answer. HTTP/1.1 so that connections stay
    open between requests; `setup` runs once per connection, which is how they are counted."""

    protocol_version = "HTTP/1.1"
    server: "Server"

    def setup(self) -> None:
        super().setup()
        with self.server.receiver.lock:
            self.server.receiver.connections += 1

    def do_POST(self) -> None:
        self._record()

    def do_GET(self) -> None:
        self._record()

    def _record(self) -> None:
        expected = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(expected)
        if len(body) < expected:
            # The sender stopped mid-request (the crash tests kill it): no server acts on half
            # a request, so it was not delivered.
            self.close_connection = True
            return
        receiver = self.server.receiver
        with receiver.lock:
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
        try:
            self.server.respond(self, receiver)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read what the receiver saw from `Receiver`."""


class Server(ThreadingHTTPServer):
    """A receiver on a free port of 127.0.0.1, one thread per connection."""

    daemon_threads = True

    def __init__(self, respond: Respond) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.respond = respond
        self.receiver = Receiver(port=self.server_address[1])
