"""One delivery attempt: POST a signed body, and turn whatever happens into an `Attempt`.

The sender decides nothing about retries or subscriptions; it reports what the endpoint said
(or why it said nothing) in the terms the retry rules and the delivery log need.
"""

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from urllib3 import BaseHTTPResponse, HTTPConnectionPool
from urllib3.connectionpool import port_by_scheme
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.poolmanager import PoolKey
from urllib3.util import parse_url

from syndicator.push.guard import TargetRefused, check_scheme
from syndicator.push.pinned import GuardedPoolManager

DEFAULT_USER_AGENT = "syndicator-push"
# The reply is read only so that its connection can carry the next post; past this, dropping
# the connection is cheaper than reading on.
MAX_REPLY_BYTES = 64 * 1024
# The start of a reply kept in the attempt log, for people reading why an endpoint refused.
REPLY_EXCERPT_BYTES = 512
# Endpoint hosts whose idle keep-alive connections a sender keeps (the least recently used
# host's are closed past this); a fan-out reaches every host in turn, so this is sized for
# hundreds of subscribers, at a socket or two each.
KEPT_ALIVE_HOSTS = 256
# URLs whose pool and request target a sender remembers.
MAX_KNOWN_URLS = 65536
_RETRY_AFTER_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})
_RECUT_SECONDS = 0.1


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
    """Posts push bodies over keep-alive connections shared by every worker thread.

    urllib3 straight (`GuardedPoolManager`): `requests` on top of it cost four fifths of a
    delivery (preparing, merging settings, walking hooks and an empty cookie jar) for nothing
    wanted here (no proxies, no .netrc, no redirects, no cookies carried between endpoints).
    The pools (one per endpoint host) are shared, so an endpoint's connection is reused by
    whichever thread posts to it next. A deadline cuts only the connection the late thread
    holds.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        user_agent: str = DEFAULT_USER_AGENT,
        threads: int = 1,
    ) -> None:
        """`threads` is how many threads post at once, so that every one of them can keep its
        connection to a host alive."""
        # The reply is not used; compressing it only costs both ends.
        self._headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
        self._manager = GuardedPoolManager(
            allow_private=allow_private, num_pools=KEPT_ALIVE_HOSTS, maxsize=threads
        )
        self._targets: dict[str, tuple[PoolKey, dict[str, Any], str]] = {}
        self._deadlines = Deadlines()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
        """POST `body` with `headers` (already signed) and report the attempt.

        `timeout` bounds the whole exchange, connect to last byte, not each read: a server
        trickling its answer must not hold the worker. Redirects are not followed. Errors are
        described without the request's headers, which carry the signature.
        """
        cut = partial(self._manager.interrupt, threading.get_ident())
        started = time.monotonic()
        with self._deadlines.watch(timeout, cut) as watch:
            try:
                pool, path = self._target(url)
                response = pool.urlopen(
                    "POST",
                    path,
                    body=body,
                    headers={**self._headers, **headers},
                    retries=False,
                    redirect=False,
                    timeout=timeout,
                    preload_content=False,
                    assert_same_host=False,
                )
                head = _drain(response)
            except (HTTPError, OSError, TargetRefused) as error:
                message = _describe(error, timeout, timed_out=watch.fired)
                return Attempt(status=None, duration_ms=_ms_since(started), error=message)
        attempt = _judge(response.status, response.headers, _ms_since(started), datetime.now(UTC))
        return replace(attempt, reply=head.decode("utf-8", "replace")) if head else attempt

    def _target(self, url: str) -> tuple[HTTPConnectionPool, str]:
        """The pool and request target of `url`; the URL is parsed and its pool key made once
        (a fan-out posts to the same few thousand URLs over and over, and making the key cost
        a tenth of a post), the pool asked for each time, as the manager closes the least
        recently used ones."""
        known = self._targets.get(url)
        if known is None:
            check_scheme(url)
            parts = parse_url(url)
            scheme = parts.scheme or "http"
            context = {
                **self._manager.connection_pool_kw,
                "scheme": scheme,
                "host": parts.host or "",
                "port": parts.port or port_by_scheme.get(scheme, 80),
            }
            known = (self._manager.key_fn_by_scheme[scheme](context), context, parts.request_uri)
            if len(self._targets) < MAX_KNOWN_URLS:
                self._targets[url] = known
        key, context, path = known
        # A copy: a pool made from the context takes parts of it away.
        return self._manager.connection_from_pool_key(key, dict(context)), path

    def close(self) -> None:
        """Close every connection and stop the deadline thread; for shutdown, once no post is
        running."""
        self._manager.clear()
        self._targets.clear()
        self._deadlines.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _drain(response: BaseHTTPResponse) -> bytes:
    """Read a bounded reply to its end so the connection can serve the next post; its first
    ``REPLY_EXCERPT_BYTES``.

    A reply cut short (too long, or stopped by the deadline) only costs the connection: the
    status line already gave the verdict.
    """
    read = 0
    head = b""
    try:
        for chunk in response.stream(8192, decode_content=False):
            if read < REPLY_EXCERPT_BYTES:
                head += chunk[: REPLY_EXCERPT_BYTES - read]
            read += len(chunk)
            if read > MAX_REPLY_BYTES:
                break
        else:
            response.release_conn()
            return head
    except (HTTPError, OSError):
        pass
    response.close()
    response.release_conn()
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


def _describe(error: Exception, timeout: float, *, timed_out: bool) -> str:
    """Name the failure by its root cause, which carries neither the request's headers nor
    its path and query (the delivery record already has the URL)."""
    if isinstance(error, TargetRefused):
        return str(error)
    # urllib3 makes every failed connect a ConnectTimeoutError (NewConnectionError is one).
    connect_timeout = isinstance(error, ConnectTimeoutError) and not isinstance(
        error, NewConnectionError
    )
    if connect_timeout and not timed_out:
        return f"timed out: could not connect within {timeout:g} s"
    if timed_out or isinstance(error, TimeoutError | ReadTimeoutError):
        return f"timed out: no complete response within {timeout:g} s"
    root: BaseException = error
    while (cause := root.__cause__ or root.__context__) is not None:
        root = cause
    if isinstance(root, ProtocolError) and len(root.args) > 1:
        root = root.args[1]
    return f"{type(root).__name__}: {root}"


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


class _Watch:
    """One exchange under a deadline: what to cut, and whether it was cut."""

    __slots__ = ("cut", "done", "fired")

    def __init__(self, cut: Callable[[], None]) -> None:
        self.cut = cut
        self.done = False
        self.fired = False


class Deadlines:
    """Cuts an exchange's connections once its time is up, and again every tenth of a second
    until it ends, so that a connection still being opened when time ran out is cut as soon as
    it exists.

    One thread watches every exchange of a sender: a thread started and joined for each post
    cost 0.1 to 0.3 ms, a sixth of a delivery or more. A finished exchange is only marked
    done, and dropped once it comes first in the queue, so the thread wakes about once per
    timeout, not once per post. Cuts are made under the lock that ends an exchange, so once
    `watch` has returned no cut can reach the thread's next post.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queue: list[tuple[float, int, _Watch]] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, seconds: float, cut: Callable[[], None]) -> Iterator[_Watch]:
        """Run the body of the `with` under a deadline `seconds` from now; `cut` is called
        (from the deadline thread) while it is late."""
        watch = _Watch(cut)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="push-deadlines", daemon=True
                )
                self._thread.start()
            self._push(time.monotonic() + seconds, watch)
        try:
            yield watch
        finally:
            with self._lock:
                watch.done = True

    def close(self) -> None:
        """Stop the thread; a later `watch` starts another."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._lock.notify_all()
        if thread is not None:
            thread.join()

    def _push(self, deadline: float, watch: _Watch) -> None:
        heapq.heappush(self._queue, (deadline, next(self._count), watch))
        if self._queue[0][2] is watch:
            self._lock.notify_all()

    def _run(self) -> None:
        with self._lock:
            while self._thread is threading.current_thread():
                while self._queue and self._queue[0][2].done:
                    heapq.heappop(self._queue)
                if not self._queue:
                    self._lock.wait()
                    continue
                wait = self._queue[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, watch = heapq.heappop(self._queue)
                watch.fired = True
                watch.cut()
                self._push(time.monotonic() + _RECUT_SECONDS, watch)
