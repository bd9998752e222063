"""The HTTP transports of the push stage, pinned to the addresses the guard has checked.

Plain urllib3 resolves a name again when it connects, so a check made before that leaves a
window for DNS rebinding; these connections resolve once, refuse what `push.guard` refuses, and
connect to exactly the addresses checked. Kept apart from the guard's policy so that what only
checks a URL (a subscription being made, the outbox) never imports requests and urllib3.
"""

import asyncio
import contextlib
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

from aiohttp.abc import AbstractResolver, ResolveResult
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from syndicator.push.guard import IPAddress, TargetRefused, refuse_private, resolve


class _PinnedConnectionMixin:
    """Resolves once, checks those addresses and connects to exactly them.

    Plain urllib3 resolves the name again when it connects; a check made before that leaves a
    window for DNS rebinding (a public answer for the check, 127.0.0.1 for the connection).
    `host` stays the name, so the Host header, TLS SNI and the certificate check are unchanged.
    """

    _dns_host: str
    # The thread the pool has lent this connection to, None while it is idle in the pool.
    borrower: int | None = None
    host: str
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: Any
    sock: socket.socket | None

    def __init__(
        self,
        *args: Any,
        allow_private: bool,
        on_open: Callable[["_PinnedConnectionMixin"], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._allow_private = allow_private
        on_open(self)

    def _new_conn(self) -> socket.socket:
        try:
            addresses = resolve(self._dns_host, self.port)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        if not self._allow_private:
            refuse_private(f"{self.host}:{self.port}", addresses)
        return self._connect_any(addresses)

    def _connect_any(self, addresses: list[IPAddress]) -> socket.socket:
        """Tries each address in turn as urllib3 does, but within one connect timeout in all:
        a host with several black-holed addresses must not multiply the worker's wait."""
        started = time.monotonic()
        error: OSError = TimeoutError()
        for address in addresses:
            timeout = self.timeout
            if isinstance(timeout, int | float):
                timeout -= time.monotonic() - started
                if timeout <= 0:
                    break
            try:
                sock = create_connection(
                    (str(address), self.port),
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as failure:
                error = failure
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(error, TimeoutError):
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from error
        message = f"Failed to establish a new connection: {error}"
        raise NewConnectionError(self, message) from error  # type: ignore[arg-type]


class _OneWriteMixin:
    """Writes a request's head together with its body's first piece: http.client writes them
    apart, which for a webhook of a few kilobytes costs a second system call and a second
    packet, and wakes the receiver twice. A request without a body goes out whole when its
    response is asked for."""

    _COALESCE_BYTES = 64 * 1024
    _head: bytes | None = None
    _holding = False

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        self._holding = True
        try:
            super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]
        finally:
            self._holding = False

    def send(self, data: Any) -> None:
        if self._holding:  # the head, from endheaders
            self._holding = False
            self._head = bytes(data)
            return
        head, self._head = self._head, None
        if head is not None:
            if isinstance(data, bytes | bytearray) and len(data) <= self._COALESCE_BYTES:
                data = head + data
            else:
                super().send(head)  # type: ignore[misc]
        super().send(data)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        head, self._head = self._head, None
        if head is not None:
            super().send(head)  # type: ignore[misc]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]

    def close(self) -> None:
        self._head = None
        super().close()  # type: ignore[misc]


class _PinnedHTTPConnection(_PinnedConnectionMixin, _OneWriteMixin, HTTPConnection):
    """http:// through the pinned, checked connect."""


class _PinnedHTTPSConnection(_PinnedConnectionMixin, _OneWriteMixin, HTTPSConnection):
    """https:// through the pinned, checked connect; TLS still verifies the host name."""


class _LendingPoolMixin:
    """Marks each connection with the thread it is lent to, so that a deadline cuts that
    thread's exchange and nothing else on the shared pools."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        connection.borrower = threading.get_ident()
        return connection

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.borrower = None
        super()._put_conn(conn)  # type: ignore[misc]


class _PinnedHTTPConnectionPool(_LendingPoolMixin, HTTPConnectionPool):
    """Hands out pinned connections; the guard settings reach them as connection arguments."""

    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(_LendingPoolMixin, HTTPSConnectionPool):
    """Hands out pinned TLS connections; the guard settings reach them as connection arguments."""

    ConnectionCls = _PinnedHTTPSConnection


class _Connections:
    """Every connection a transport opened, to cut those lent to one thread."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[_PinnedConnectionMixin] = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, connection: _PinnedConnectionMixin) -> None:
        with self._lock:
            self._open.add(connection)

    def interrupt(self, borrower: int) -> None:
        """Shut down the socket of every connection lent to the thread `borrower`.

        Socket timeouts bound each read, not a whole exchange; a deadline needs another thread
        to wake the blocked read, and shutdown does that at once, TLS included. The pools are
        shared by every thread of a sender, so only the late thread's connections are cut.
        """
        with self._lock:
            connections = [c for c in self._open if c.borrower == borrower]
        for connection in connections:
            sock = connection.sock
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown: SSLSocket's own also drops its TLS object,
                    # and the reading thread's next read would raise ValueError, not the
                    # connection error the HTTP stack knows how to handle.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def pool_classes(self, allow_private: bool) -> dict[str, Any]:
        """urllib3's pool classes by scheme, handing out pinned, checked, tracked connections."""
        return {
            "http": partial(
                _PinnedHTTPConnectionPool, allow_private=allow_private, on_open=self.track
            ),
            "https": partial(
                _PinnedHTTPSConnectionPool, allow_private=allow_private, on_open=self.track
            ),
        }


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for the fan-out: the addresses it returns are the only ones the
    connection tries, so checking them here is checking the address actually connected to.
    Names only: aiohttp connects to an IP literal without asking, so the sender checks those.
    With `allow_private` the addresses are still resolved once and pinned, only not refused."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        addresses = await loop.run_in_executor(None, resolve, host, port)
        if not self._allow_private:
            refuse_private(f"{host}:{port}", addresses)
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing held: lookups run on the loop's executor."""


class GuardedAdapter(HTTPAdapter):
    """The requests transport for WebSub verification: connects only to addresses it has
    checked, refuses proxies, and can cut its connections from another thread.

    Send through it directly, or mount it for both `http://` and `https://` on a Session. With
    `allow_private` the addresses are still resolved once and pinned, only not refused (tests,
    intranet deployments).
    """

    def __init__(self, *, allow_private: bool, **kwargs: Any) -> None:
        # Set first: HTTPAdapter.__init__ builds the pool manager, which needs them.
        self.allow_private = allow_private
        self._connections = _Connections()
        self.interrupt = self._connections.interrupt
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._connections.pool_classes(self.allow_private)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> NoReturn:
        """A proxy connects on our behalf to addresses this guard never sees."""
        raise TargetRefused(proxy, "sending through a proxy would bypass the address check")
