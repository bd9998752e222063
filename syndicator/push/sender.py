"""One delivery attempt: POST a signed body, and turn whatever happens into an `Attempt`.

The sender decides nothing about retries or subscriptions; it reports what the endpoint said
(or why it said nothing) in the terms the retry rules and the delivery log need.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from typing import Self

import requests

from syndicator.push.guard import GuardedAdapter, TargetRefused

DEFAULT_USER_AGENT = "syndicator-push"
# The reply is read only so that its connection can carry the next post; past this, dropping
# the connection is cheaper than reading on.
MAX_REPLY_BYTES = 64 * 1024
# Idle keep-alive connections one worker thread keeps, one per endpoint host.
KEPT_ALIVE_HOSTS = 64
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
    """Posts push bodies over keep-alive connections, one Session per worker thread.

    A Session is not safe to share between threads, and one per thread also means one slow
    endpoint only ever holds its own thread. Every connection goes through `GuardedAdapter`.
    """

    def __init__(
        self, *, allow_private: bool = False, user_agent: str = DEFAULT_USER_AGENT
    ) -> None:
        self._allow_private = allow_private
        self._user_agent = user_agent
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Attempt:
        """POST `body` with `headers` (already signed) and report the attempt.

        `timeout` bounds the whole exchange, connect to last byte, not each read: a server
        trickling its answer must not hold the worker. Redirects are not followed. Errors are
        described without the request's headers, which carry the signature.
        """
        session, adapter = self._transport()
        started = time.monotonic()
        with _Watchdog(timeout, adapter.interrupt) as watchdog:
            try:
                status, reply_headers = _exchange(session, url, body, headers, timeout)
            except (requests.RequestException, TargetRefused) as error:
                message = _describe(error, timeout, timed_out=watchdog.fired)
                return Attempt(status=None, duration_ms=_ms_since(started), error=message)
        return _judge(status, reply_headers, _ms_since(started), datetime.now(UTC))

    def close(self) -> None:
        """Close every thread's connections; for shutdown, once no post is running."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _transport(self) -> tuple[requests.Session, GuardedAdapter]:
        transport: tuple[requests.Session, GuardedAdapter] | None = getattr(
            self._local, "transport", None
        )
        if transport is None:
            transport = _open_transport(self._allow_private, self._user_agent)
            self._local.transport = transport
            with self._sessions_lock:
                self._sessions.append(transport[0])
        return transport


def _open_transport(
    allow_private: bool, user_agent: str
) -> tuple[requests.Session, GuardedAdapter]:
    session = requests.Session()
    # Nothing from the environment: a proxy would bypass the guard, and .netrc credentials
    # would be sent to whatever endpoint a subscriber names.
    session.trust_env = False
    # Endpoints must not share state through us: a cookie set by one subscriber's receiver
    # would otherwise go back to every endpoint on that host.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    # The reply is not used; compressing it only costs both ends.
    session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "identity"})
    adapter = GuardedAdapter(
        allow_private=allow_private, pool_connections=KEPT_ALIVE_HOSTS, pool_maxsize=1
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


def _exchange(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> tuple[int, Mapping[str, str]]:
    with session.post(
        url,
        data=body,
        headers=dict(headers),
        timeout=timeout,
        allow_redirects=False,
        stream=True,
    ) as response:
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


class _Watchdog:
    """Cuts the worker's connections once `seconds` have passed, and again every tenth of a
    second until the exchange ends, so that a connection still being opened when time ran
    out is cut as soon as it exists."""

    def __init__(self, seconds: float, cut: Callable[[], None]) -> None:
        self._seconds = seconds
        self._cut = cut
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="push-deadline", daemon=True)
        self.fired = False

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Joined before the thread's next post, which it must never cut.
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        if self._done.wait(self._seconds):
            return
        self.fired = True
        self._cut()
        while not self._done.wait(_RECUT_SECONDS):
            self._cut()
