"""The endpoints deliveries go to: a webhook subscription, sent an event, or a WebSub
subscriber, sent the current document of the feed it follows. A delivery row names exactly
one of the two; the lease queue's claims read them apart from the due rows (``with_endpoints``),
the delivery log joins them (``endpoints``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from syndicator.store.schema import deliveries, subscriptions, websub_subscriptions
from syndicator.store.sql import OneOf


@dataclass(frozen=True, slots=True)
class Topic:
    """The feed a WebSub delivery sends: its file in the output folder, read when sent so that
    every attempt carries the newest version, and the topic URL its subscriber knows it by."""

    path: str
    url: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a claimed delivery goes: a webhook subscription, or a WebSub subscription
    (``topic`` set) whose lease ends at ``expires_at``."""

    url: str
    secret: str
    enabled: bool
    expires_at: datetime | None = None
    topic: Topic | None = None

    def closed(self, now: datetime) -> bool:
        """Whether it takes no more deliveries (a disabled webhook subscription, an expired
        WebSub lease)."""
        return not self.enabled or (self.expires_at is not None and self.expires_at <= now)


_PART = 256
"""Due rows read at a time, their endpoints looked up together."""
_WEBHOOKS = select(
    subscriptions.c.id, subscriptions.c.url, subscriptions.c.secret, subscriptions.c.enabled
).where(OneOf(subscriptions.c.id, "ids"))
_WEBSUBS = select(
    websub_subscriptions.c.id,
    websub_subscriptions.c.callback,
    websub_subscriptions.c.secret,
    websub_subscriptions.c.expires_at,
    websub_subscriptions.c.path,
    websub_subscriptions.c.topic,
).where(OneOf(websub_subscriptions.c.id, "ids"))


def with_endpoints(
    connection: Connection, rows: Any, known: dict[str, Endpoint | None]
) -> Iterator[tuple[Any, Endpoint | None]]:
    """Each due row with its endpoint (None if gone), read a part at a time: the endpoints
    a part names that ``known`` lacks are read in one statement per kind and kept there, so a
    claim reads each endpoint once, however many of its deliveries are due."""
    for part in rows.partitions(_PART):
        webhooks = {r.subscription_id for r in part if r.subscription_id is not None} - known.keys()
        websubs = {
            r.websub_subscription_id for r in part if r.websub_subscription_id is not None
        } - known.keys()
        known.update(dict.fromkeys(webhooks | websubs))
        if webhooks:
            for hook in connection.execute(_WEBHOOKS, {"ids": sorted(webhooks)}):
                known[hook.id] = Endpoint(hook.url, hook.secret, hook.enabled)
        if websubs:
            for sub in connection.execute(_WEBSUBS, {"ids": sorted(websubs)}):
                known[sub.id] = Endpoint(
                    sub.callback, sub.secret, True, sub.expires_at, Topic(sub.path, sub.topic)
                )
        for row in part:
            yield row, known[endpoint_id(row)]


def endpoint_id(row: Any) -> str:
    """The id of the subscription a delivery row names, of either kind."""
    return str(row.websub_subscription_id or row.subscription_id)


def endpoints() -> Any:
    """Deliveries with whichever endpoint each names."""
    return deliveries.outerjoin(
        subscriptions, subscriptions.c.id == deliveries.c.subscription_id
    ).outerjoin(
        websub_subscriptions,
        websub_subscriptions.c.id == deliveries.c.websub_subscription_id,
    )
