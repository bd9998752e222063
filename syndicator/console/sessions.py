"""Console sessions: signing in with the API token, the session cookie, CSRF tokens, and the
limit on sign-in attempts.

A session lives in the store (``console_sessions``), so every web process of a deployment knows
it and signing out ends it everywhere; the cookie carries a random secret whose digest is the
row's key, so the table alone cannot be used to sign in. The CSRF token of a session's forms
is kept in its row. The sign-in form, which comes before any session, carries a token that is
also set as a cookie (double submit): with SameSite=Strict, another site can post neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from syndicator.store.schema import console_sessions

COOKIE = "syndicator_console"
SIGN_IN_COOKIE = "syndicator_console_sign_in"
LIFETIME = timedelta(hours=8)
"""A session ends this long after signing in, used or not."""
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW_SECONDS = 60.0
"""At most ``SIGN_IN_ATTEMPTS`` failed sign-ins per client address in this many seconds."""


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str
    expires_at: datetime


def token_matches(given: str, token: str) -> bool:
    """Whether ``given`` is the API token, in constant time; never with no token set."""
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(connection: Connection, now: datetime) -> str:
    """A new session; the cookie's secret (given to the browser only)."""
    secret = secrets.token_urlsafe(32)
    session = Session(_digest(secret), secrets.token_urlsafe(32), now + LIFETIME)
    connection.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
    connection.execute(
        insert(console_sessions).values(
            id=session.id, csrf=session.csrf, created_at=now, expires_at=session.expires_at
        )
    )
    return secret


def find(connection: Connection, secret: str | None, now: datetime) -> Session | None:
    """The session a cookie names, if it has not ended."""
    if not secret:
        return None
    row = connection.execute(
        select(console_sessions).where(
            console_sessions.c.id == _digest(secret), console_sessions.c.expires_at > now
        )
    ).first()
    return Session(row.id, row.csrf, row.expires_at) if row else None


def close(connection: Connection, session: Session) -> None:
    connection.execute(delete(console_sessions).where(console_sessions.c.id == session.id))


def csrf_ok(expected: str, given: str | None) -> bool:
    return (
        bool(expected)
        and given is not None
        and hmac.compare_digest(expected.encode(), given.encode())
    )


class Throttle:
    """Failed sign-ins per client address over a sliding window, in this process (each web
    process counts its own: a guesser gets that many tries per process and window)."""

    def __init__(
        self, attempts: int = SIGN_IN_ATTEMPTS, window: float = SIGN_IN_WINDOW_SECONDS
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client)) >= self.attempts

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > FORGET_PAST:
                for other in list(self._failures):
                    self._recent(other)
            self._failures.setdefault(client, deque()).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        """The client's failures still in the window; a client with none is forgotten."""
        failures = self._failures.get(client, deque())
        cutoff = time.monotonic() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures


FORGET_PAST = 10_000
"""Clients remembered before those whose failures are all old are swept out."""
