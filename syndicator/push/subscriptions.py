"""Webhook subscriptions in the store: who wants which events, for which categories and tags."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from syndicator.content.slugs import name_slug
from syndicator.push import attempts
from syndicator.push.guard import check_target
from syndicator.push.signing import decode_secret, generate_secret
from syndicator.push.status import DeliveryStatus
from syndicator.store.records import EVENT_TYPES
from syndicator.store.schema import deliveries, subscriptions
from syndicator.store.sql import is_constant


class SubscriptionError(ValueError):
    """A subscription that cannot be created as asked (bad URL, target, secret or filter)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    secret: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    event_types: tuple[str, ...]
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime

    def wants(self, event_type: str, categories: Iterable[str], tags: Iterable[str]) -> bool:
        """Event type chosen, and any chosen category or tag (none chosen = everything)."""
        if event_type not in self.event_types:
            return False
        if not self.categories and not self.tags:
            return True
        return bool(set(self.categories) & set(categories)) or bool(set(self.tags) & set(tags))

    def public(self) -> dict[str, Any]:
        """Everything but the secret, which is shown once, at creation."""
        return {
            "id": self.id,
            "url": self.url,
            "categories": list(self.categories),
            "tags": list(self.tags),
            "event_types": list(self.event_types),
            "description": self.description,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "created_at": self.created_at.isoformat(),
        }


def new_subscription(
    url: str,
    *,
    categories: Sequence[str] = (),
    tags: Sequence[str] = (),
    event_types: Sequence[str] = (),
    secret: str | None = None,
    description: str = "",
    allow_private: bool,
    now: datetime,
) -> Subscription:
    """Validate everything before anything is stored; the URL's target is checked too."""
    check_target(url, allow_private=allow_private)
    chosen = tuple(dict.fromkeys(event_types)) or ("item.published",)
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise SubscriptionError(f"unknown event type(s) {unknown}; choose from {list(EVENT_TYPES)}")
    if secret is None:
        secret = generate_secret()
    else:
        try:
            decode_secret(secret)
        except ValueError as exc:
            raise SubscriptionError(f"secret: {exc}") from exc
    return Subscription(
        id=f"sub_{secrets.token_hex(8)}",
        url=url,
        secret=secret,
        categories=_slugs(categories),
        tags=_slugs(tags),
        event_types=chosen,
        description=description,
        enabled=True,
        disabled_reason=None,
        failing_since=None,
        created_at=now,
    )


def _slugs(names: Iterable[str]) -> tuple[str, ...]:
    """Filters are kept by slug, so ``Open Data`` and ``open-data`` choose the same feed."""
    return tuple(dict.fromkeys(s for s in (name_slug(n) for n in names) if s))


def _values(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "secret": subscription.secret,
        "categories": json.dumps(subscription.categories),
        "tags": json.dumps(subscription.tags),
        "event_types": json.dumps(subscription.event_types),
        "description": subscription.description,
        "enabled": subscription.enabled,
        "disabled_reason": subscription.disabled_reason,
        "failing_since": subscription.failing_since,
        "created_at": subscription.created_at,
    }


def add(connection: Connection, subscription: Subscription) -> None:
    connection.execute(insert(subscriptions).values(**_values(subscription)))


def save(connection: Connection, subscription: Subscription) -> bool:
    """Write back a changed subscription, found by its id; False if there is none."""
    values = _values(subscription)
    del values["id"], values["created_at"]
    return bool(
        connection.execute(
            update(subscriptions).where(subscriptions.c.id == subscription.id).values(**values)
        ).rowcount
    )


def _from_row(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        url=row.url,
        secret=row.secret,
        categories=tuple(json.loads(row.categories)),
        tags=tuple(json.loads(row.tags)),
        event_types=tuple(json.loads(row.event_types)),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
    )


def list_all(connection: Connection, *, enabled_only: bool = False) -> list[Subscription]:
    query = select(subscriptions).order_by(subscriptions.c.created_at, subscriptions.c.id)
    if enabled_only:
        query = query.where(subscriptions.c.enabled.is_(True))
    return [_from_row(row) for row in connection.execute(query)]


def page(
    connection: Connection,
    *,
    limit: int,
    before: str | None = None,
    enabled: bool | None = None,
) -> list[Subscription]:
    """Newest first; ``before`` is the id of the last subscription of the previous page, so
    subscriptions added meanwhile never shift a page; all, or only the enabled or disabled."""
    newest_first = (subscriptions.c.created_at.desc(), subscriptions.c.id.desc())
    query = select(subscriptions).order_by(*newest_first).limit(limit)
    if enabled is not None:
        query = query.where(subscriptions.c.enabled.is_(enabled))
    if before is not None:
        cursor = connection.execute(
            select(subscriptions.c.created_at, subscriptions.c.id).where(
                subscriptions.c.id == before
            )
        ).first()
        if cursor is None:
            raise SubscriptionError(f"no subscription {before} to page from")
        query = query.where(
            tuple_(subscriptions.c.created_at, subscriptions.c.id) < tuple_(*cursor)
        )
    return [_from_row(row) for row in connection.execute(query)]


def edited(
    current: Subscription, changes: dict[str, Any], *, enable: bool, allow_private: bool
) -> Subscription:
    """``current`` with ``changes`` (url, categories, tags, event_types, description) applied
    and checked as a new subscription would be (URL target, event types, slugs); it keeps its
    id, secret, creation time and state, unless ``enable`` enables it again, which also
    forgets its failures."""
    fields = {k: v for k, v in current.public().items() if k in EDITABLE}
    fields |= {k: v for k, v in changes.items() if k in EDITABLE}
    checked = new_subscription(
        **fields, secret=current.secret, allow_private=allow_private, now=current.created_at
    )
    if enable and not current.enabled:
        return replace(checked, id=current.id)
    return replace(
        checked,
        id=current.id,
        enabled=current.enabled,
        disabled_reason=current.disabled_reason,
        failing_since=current.failing_since,
    )


EDITABLE = frozenset({"url", "categories", "tags", "event_types", "description"})
"""What may change in a subscription after it is made (its secret changes by ``rotate``)."""


def rotate(connection: Connection, subscription_id: str) -> str | None:
    """Give the subscription a new signing secret at once; the secret, or None if no such
    subscription. Deliveries still to be sent are signed with the new one."""
    secret = generate_secret()
    changed = connection.execute(
        update(subscriptions).where(subscriptions.c.id == subscription_id).values(secret=secret)
    ).rowcount
    return secret if changed else None


def needing_attention(connection: Connection, *, limit: int) -> list[Subscription]:
    """Disabled subscriptions and those failing now, the longest failing first."""
    query = (
        select(subscriptions)
        .where(subscriptions.c.enabled.is_(False) | subscriptions.c.failing_since.is_not(None))
        .order_by(subscriptions.c.enabled, subscriptions.c.failing_since, subscriptions.c.id)
        .limit(limit)
    )
    return [_from_row(row) for row in connection.execute(query)]


def get(connection: Connection, subscription_id: str) -> Subscription | None:
    row = connection.execute(
        select(subscriptions).where(subscriptions.c.id == subscription_id)
    ).first()
    return _from_row(row) if row else None


def remove(connection: Connection, subscription_id: str) -> bool:
    """Delete a subscription with its deliveries and their attempts. Its row is locked first,
    so no delivery is made for it meanwhile (fan-out's key check waits) that would escape."""
    mine = deliveries.c.subscription_id == subscription_id
    connection.execute(
        select(subscriptions.c.id).where(subscriptions.c.id == subscription_id).with_for_update()
    ).close()
    attempts.forget(connection, mine)
    connection.execute(delete(deliveries).where(mine))
    return bool(
        connection.execute(
            delete(subscriptions).where(subscriptions.c.id == subscription_id)
        ).rowcount
    )


def disable(connection: Connection, subscription_id: str, reason: str) -> None:
    """Stop delivering to an endpoint; its pending deliveries are cancelled, not deleted: they
    stay in the delivery log with the reason."""
    connection.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(enabled=False, disabled_reason=reason)
    )
    connection.execute(
        update(deliveries)
        .where(
            deliveries.c.subscription_id == subscription_id,
            is_constant(deliveries.c.status, DeliveryStatus.PENDING),
        )
        .values(status=DeliveryStatus.CANCELLED, last_error=reason)
    )
