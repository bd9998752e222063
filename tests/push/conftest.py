"""Fixtures of the push tests: receivers on 127.0.0.1, and a tripwire on outside traffic."""

import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import pytest

from .receivers import CERT, KEY, Receiver, Respond, Server


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
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
