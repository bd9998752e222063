"""Endpoint health: failure streaks, 410 Gone, and disabling an endpoint that stays dead.

Settlement (``syndicator.push.queue``) reports what its attempts said; this module decides what
that means for the endpoints, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from syndicator.push import subscriptions as subs
from syndicator.push.retry import should_disable
from syndicator.push.sender import Outcome
from syndicator.store.schema import subscriptions, websub_subscriptions
from syndicator.store.sql import OneOf

_RECOVERED = (
    update(subscriptions)
    .where(
        OneOf(subscriptions.c.id, "ids"),
        subscriptions.c.failing_since.is_not(None),
    )
    .values(failing_since=None)
)

Failure = tuple[str, str, bool, Outcome, datetime]
"""An attempt that did not deliver: endpoint id, URL, whether a webhook, outcome, when."""


def recovered(connection: Connection, webhook_ids: Iterable[str]) -> None:
    """End the failure streaks of endpoints that just accepted a delivery; one statement that
    writes only the rows that had a streak."""
    ids = sorted(webhook_ids)
    if ids:
        connection.execute(_RECOVERED, {"ids": ids})


def failed(connection: Connection, failures: Sequence[Failure]) -> list[str]:
    """Apply failed attempts to their endpoints, in endpoint order; reports of the endpoints
    disabled or ended."""
    reports: list[str] = []
    done: set[str] = set()
    for endpoint, url, webhook, outcome, at in sorted(failures, key=lambda f: (f[0], f[4])):
        if endpoint in done:
            continue
        if outcome is Outcome.GONE:
            reports.append(_gone(connection, endpoint, url, webhook, at))
            done.add(endpoint)
        elif webhook:
            report = _note_failure(connection, endpoint, at)
            if report:
                reports.append(report)
                done.add(endpoint)
    return reports


def _gone(connection: Connection, endpoint: str, url: str, webhook: bool, at: datetime) -> str:
    """410 Gone ends the endpoint at once: a webhook subscription is disabled, a WebSub
    subscription's lease ends (it is removed with the other expired ones)."""
    reason = f"410 Gone from {url} at {at.isoformat()}"
    if webhook:
        subs.disable(connection, endpoint, reason)
        return f"subscription {endpoint} disabled: {reason}"
    connection.execute(
        update(websub_subscriptions)
        .where(websub_subscriptions.c.id == endpoint)
        .values(expires_at=at)
    )
    return f"WebSub subscription {endpoint} ended: {reason}"


def _note_failure(connection: Connection, endpoint: str, at: datetime) -> str | None:
    """Start or extend the endpoint's failure streak; five days of it disables the endpoint."""
    connection.execute(
        update(subscriptions)
        .where(subscriptions.c.id == endpoint, subscriptions.c.failing_since.is_(None))
        .values(failing_since=at)
    )
    since = connection.execute(
        select(subscriptions.c.failing_since).where(subscriptions.c.id == endpoint)
    ).scalar()
    if since is not None and should_disable(since, at):
        reason = f"every attempt failed since {since.isoformat()} (5 days)"
        subs.disable(connection, endpoint, reason)
        return f"subscription {endpoint} disabled: {reason}"
    return None
