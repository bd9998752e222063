"""One delivery attempt: POST a signed body, and turn whatever happens into an `Attempt`.

The sender decides nothing about retries or subscriptions; it reports what the endpoint said
(or why it said nothing) in the terms the retry rules and the delivery log need.

Posts run on one event loop (aiohttp), each under a total timeout, connect to last byte. A
thread per concurrent post made every post queue for the interpreter lock twice per system
call: measured against 100 local receivers answering 204 (bench/push.py), a loop of urllib3
posts on one thread did 4,100 posts/s at 206 us of CPU each, aiohttp on one loop 9,600 posts/s
at 100 us, and our 16 urllib3 threads 1,500/s at 600 us.
"""

import asyncio
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from ipaddress import ip_address
from os import strerror
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from yarl import URL

from syndicator.push.guard import TargetRefused, check_scheme, refuse_private
from syndicator.push.pinned import GuardedResolver

_T = TypeVar("_T")
DEFAULT_USER_AGENT = "syndicator-push"
# The reply is read only so that its connection can carry the next post; past this, dropping
# the connection is cheaper than reading on.
MAX_REPLY_BYTES = 64 * 1024
# The start of a reply kept in the attempt log, for people reading why an endpoint refused.
REPLY_EXCERPT_BYTES = 512
# URLs a sender remembers as checked and parsed.
MAX_KNOWN_URLS = 65536
_RETRY_AFTER_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})


class Outcome(StrEnum):
    """What a delivery attempt means for the delivery and its subscription."""

    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


def outcome_of(status: int | None) -> Outcome:
    """2xx delivers; 410 tells us the endpoint is gone for good; anything else, redirects
    included (a webhook endpoint that moved must be re-subscribed, not followed), fails."""
    if status is not None and 200 <= status < 300:
        return Outcome.DELIVERED
    if status == HTTPStatus.GONE:
        return Outcome.GONE
    return Outcome.FAILED


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as the delivery log records it and the retry rules read it.

    `status` is None when no HTTP answer came (refused target, connection error, timeout);
    `retry_after` is the endpoint's own wait, in seconds, from a 429 or 503.
    """

    status: int | None
    duration_ms: float
    error: str | None
    retry_after: float | None = None
    reply: str | None = None
    """The first ``REPLY_EXCERPT_BYTES`` of the body, as text (undecodable bytes replaced)."""

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.status)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value, delta-seconds or HTTP-date (RFC 9110);
    None when absent or unreadable, so that the schedule alone decides."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


class Sender:
    """Posts push bodies from its own event loop, over keep-alive connections per endpoint host.

    `send` is a coroutine for the loop (`run` starts work there from any thread); `post` is
    the same attempt for a caller in another thread, which waits for it. Connections go only
    to addresses the guard has checked: names through `GuardedResolver`, IP literals (which
    aiohttp never resolves) checked here. No proxy, no redirects, no cookies, nothing from the
    environment.
    """

    def __init__(
        self, *, allow_private: bool = False, user_agent: str = DEFAULT_USER_AGENT
    ) -> None:
        self._allow_private = allow_private
        self._user_agent = user_agent
        self._targets: dict[str, URL] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # The loop, its thread and the session start with the first post: a sender made and
        # never used (a deliverer built, then not started) leaves no thread behind.
        self._starting = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None:
            return loop
        with self._starting:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="push-sender", daemon=True
                )
                self._thread.start()
                self._session = asyncio.run_coroutine_threadsafe(self._open(), loop).result()
                self._loop = loop
            return self._loop

    async def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_private=self._allow_private), limit=0
        )
        return aiohttp.ClientSession(
            connector=connector,
            # The reply is not used; compressing it only costs both ends.
            headers={"User-Agent": self._user_agent, "Accept-Encoding": "identity"},
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    async def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Attempt:
        """POST `body` with `headers` (already signed) and report the attempt.

        `timeout` bounds the whole exchange, connect to last byte, not each read: a server
        trickling its answer must not hold the post. Redirects are not followed. Errors are
        described without the request's headers, which carry the signature.
        """
        started = time.monotonic()
        session = self._session
        assert session is not None, "send runs on the loop, which starts with the session"
        try:
            async with session.post(
                self._target(url),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(timeout),
            ) as response:
                head = await _drain(response)
        except (aiohttp.ClientError, OSError, TargetRefused) as error:
            return Attempt(None, _ms_since(started), _describe(error, timeout))
        attempt = _judge(response.status, response.headers, _ms_since(started), datetime.now(UTC))
        return replace(attempt, reply=head.decode("utf-8", "replace")) if head else attempt

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
        """`send`, from a thread other than the sender's: waits for the attempt."""
        return self._wait(self.send(url, body, headers, timeout))

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Start `work` on the sender's loop, from any thread, without waiting for it."""
        self._started().call_soon_threadsafe(self._start, work)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        # The loop keeps only weak references to its tasks.
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wait(self, work: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(work, self._started()).result()

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        """One (immutable) timeout object per value: making one was a fortieth of a post."""
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    def _target(self, url: str) -> URL:
        """`url` parsed, once: http(s) only, and without `allow_private` an IP literal host
        refused here if private (a name's addresses are checked when resolved)."""
        known = self._targets.get(url)
        if known is None:
            check_scheme(url)
            known = URL(url, encoded=True)
            host = known.raw_host or ""
            try:
                literal = ip_address(host)
            except ValueError:
                literal = None  # a name: its addresses are checked when resolved
            if literal is not None and not self._allow_private:
                refuse_private(f"{host}:{known.port}", [literal])
            if len(self._targets) < MAX_KNOWN_URLS:
                self._targets[url] = known
        return known

    def close(self) -> None:
        """Let the posts under way end (each within its timeout), close every connection and
        stop the loop; for shutdown. A sender never used has nothing to close."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = self._session = None

    async def _close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self._session is not None:
            await self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


async def _drain(response: aiohttp.ClientResponse) -> bytes:
    """Read a bounded reply to its end so the connection can serve the next post; its first
    ``REPLY_EXCERPT_BYTES``.

    A reply cut short (too long, or stopped by the deadline) only costs the connection: the
    status line already gave the verdict.
    """
    read = 0
    head = b""
    try:
        async for chunk in response.content.iter_chunked(8192):
            if read < REPLY_EXCERPT_BYTES:
                head += chunk[: REPLY_EXCERPT_BYTES - read]
            read += len(chunk)
            if read > MAX_REPLY_BYTES:
                break
        else:
            return head
    except (aiohttp.ClientError, OSError):
        pass
    response.close()
    return head


def _judge(status: int, headers: Mapping[str, str], duration_ms: float, now: datetime) -> Attempt:
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(headers.get("Retry-After"), now)
    return Attempt(
        status=status,
        duration_ms=duration_ms,
        error=_status_error(status, headers),
        retry_after=retry_after,
    )


def _status_error(status: int, headers: Mapping[str, str]) -> str | None:
    if outcome_of(status) is Outcome.DELIVERED:
        return None
    try:
        label = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        label = f"HTTP {status}"
    if 300 <= status < 400:
        location = headers.get("Location", "nowhere")[:200]
        return f"{label}: redirect to {location} not followed"
    return label


def _describe(error: Exception, timeout: float) -> str:
    """Name the failure by its root cause, which carries neither the request's headers nor
    its path and query (the delivery record already has the URL)."""
    if isinstance(error, TargetRefused):
        return str(error)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return f"timed out: could not connect within {timeout:g} s"
    if isinstance(error, TimeoutError):
        return f"timed out: no complete response within {timeout:g} s"
    root: BaseException = error
    if isinstance(error, aiohttp.ClientConnectorError):
        root = error.os_error
    while (cause := root.__cause__) is not None:
        root = cause
    if isinstance(root, ConnectionError) and root.errno is not None:
        # asyncio says "Connect call failed (address)" for every refused or reset connect.
        return f"{type(root).__name__}: [Errno {root.errno}] {strerror(root.errno)}"
    return f"{type(root).__name__}: {root}"


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000
