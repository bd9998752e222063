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
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Self

import requests

from syndicator.push.guard import GuardedAdapter, TargetRefused, check_scheme

DEFAULT_USER_AGENT = "syndicator-push"
# The reply is read only so that its connection can carry the next post; past this, dropping
# the connection is cheaper than reading on.
MAX_REPLY_BYTES = 64 * 1024
# Endpoint hosts whose idle keep-alive connections a sender keeps (the least recently used
# host's are closed past this); a fan-out reaches every host in turn, so this is sized for
# hundreds of subscribers, at a socket or two each.
KEPT_ALIVE_HOSTS = 256
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

    The connection pools (one per endpoint host, through `GuardedAdapter`) are shared, so an
    endpoint's connection is reused by whichever thread posts to it next: with one pool per
    thread, a fan-out to more hosts than a pool keeps opened a new connection for nearly every
    post. A deadline cuts only the connection the late thread holds.

    Requests go to the adapter without a `requests.Session`: a Session's merging of settings,
    cookies and hooks cost about a fifth of a delivery, and none of it is wanted here (no
    proxies, no .netrc, no redirects, and no cookies carried from one endpoint to another).
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
        self._adapter = GuardedAdapter(
            allow_private=allow_private, pool_connections=KEPT_ALIVE_HOSTS, pool_maxsize=threads
        )
        self._deadlines = Deadlines()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
        """POST `body` with `headers` (already signed) and report the attempt.

        `timeout` bounds the whole exchange, connect to last byte, not each read: a server
        trickling its answer must not hold the worker. Redirects are not followed. Errors are
        described without the request's headers, which carry the signature.
        """
        cut = partial(self._adapter.interrupt, threading.get_ident())
        started = time.monotonic()
        with self._deadlines.watch(timeout, cut) as watch:
            try:
                request = _prepare(url, {**self._headers, **headers}, body)
                status, reply_headers = _exchange(self._adapter, request, timeout)
            except (requests.RequestException, TargetRefused) as error:
                message = _describe(error, timeout, timed_out=watch.fired)
                return Attempt(status=None, duration_ms=_ms_since(started), error=message)
        return _judge(status, reply_headers, _ms_since(started), datetime.now(UTC))

    def close(self) -> None:
        """Close every connection and stop the deadline thread; for shutdown, once no post is
        running."""
        self._adapter.close()
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


def _prepare(url: str, headers: Mapping[str, str], body: bytes) -> requests.PreparedRequest:
    """The POST as `requests.Request.prepare` makes it, less its cookie jar and hooks (there are
    none here, and walking the empty jar alone cost more than signing the body)."""
    check_scheme(url)
    request = requests.PreparedRequest()
    request.prepare_method("POST")
    request.prepare_url(url, None)
    request.prepare_headers(headers)
    request.prepare_body(body, None)
    request.prepare_auth(None, url)
    return request


def _exchange(
    adapter: GuardedAdapter, request: requests.PreparedRequest, timeout: float
) -> tuple[int, Mapping[str, str]]:
    with adapter.send(request, stream=True, timeout=timeout) as response:
        _drain(response)
        return response.status_code, response.headers


def _drain(response: requests.Response) -> None:
    """Read a bounded reply to its end so the connection can serve the next post.

    A reply cut short (too long, or stopped by the deadline) only costs the connection: the
    status line already gave the verdict.
    """
    read = 0
    with contextlib.suppress(requests.RequestException):
        for chunk in response.iter_content(chunk_size=8192):
            read += len(chunk)
            if read > MAX_REPLY_BYTES:
                return


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
    if isinstance(error, requests.ConnectTimeout) and not timed_out:
        return f"timed out: could not connect within {timeout:g} s"
    if timed_out or isinstance(error, requests.Timeout):
        return f"timed out: no complete response within {timeout:g} s"
    root: BaseException = error
    while (cause := root.__cause__ or root.__context__) is not None:
        root = cause
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
