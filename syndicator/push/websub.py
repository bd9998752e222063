"""The WebSub hub's state (W3C WebSub Recommendation): topics, requests, leases, distribution.

Everything here is store and file work with no HTTP framework in it: ``syndicator.web.hub``
turns requests into ``HubRequest``s, ``syndicator.push.verifier`` verifies their intent, and
content distribution is an ordinary outbox delivery (``syndicator.push.queue``), so it gets
the webhooks' claim, lease, retries, attempt log, replay and SSRF guard.

Topics are the feed documents the service publishes: ``base_url/<path>`` for a file of the
output folder named ``rss.xml``, ``atom.xml`` or ``feed.json`` (the site's, a category's, a
tag's), never an RFC 5005 archive page, which does not change once written.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select, update

from syndicator.push import attempts, outbox, wakeups
from syndicator.push.guard import TargetRefused, check_target
from syndicator.push.status import DeliveryStatus
from syndicator.store.schema import deliveries, websub_requests, websub_subscriptions
from syndicator.vocabulary import FEED_MEDIA_TYPES

MODES = ("subscribe", "unsubscribe")
MAX_SECRET_BYTES = 200
"""WebSub §5.1.1: ``hub.secret`` MUST be less than 200 bytes."""
MAX_CALLBACK_CHARS = 2048
HUB_PARAMETERS = ("hub.mode", "hub.topic", "hub.callback", "hub.lease_seconds", "hub.secret")
REQUEST_WINDOW = 500


class HubError(Exception):
    """A hub request refused before anything is stored; ``reason`` goes back as plain text."""

    def __init__(self, reason: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Topics:
    """Which URLs are topics of this hub, and the feed file each one names.

    ``is_topic`` decides for a relative path; by default, a feed file present in the output
    folder now, so a category or tag feed becomes a topic as soon as it is built.
    """

    def __init__(
        self,
        output_dir: Path,
        base_url: str,
        is_topic: Callable[[str], bool] | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.base_url = base_url.rstrip("/")
        self._is_topic = is_topic or self._is_feed_file

    def path_of(self, topic: str) -> str | None:
        """The feed path a topic URL names, or None when it is not one this hub serves."""
        prefix = self.base_url + "/"
        if not topic.startswith(prefix) or any(c in topic for c in "?#"):
            return None
        path = unquote(topic[len(prefix) :])
        return path if is_feed_path(path) and self._is_topic(path) else None

    def url_of(self, path: str) -> str:
        """The topic URL of a feed path: the self link the feed carries and is served with."""
        return f"{self.base_url}/{quote(path)}"

    def published(self) -> list[str]:
        """Every topic path in the output folder, sorted."""
        found: list[str] = []
        for folder, subfolders, files in os.walk(self.output_dir):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            relative = Path(folder).relative_to(self.output_dir)
            found.extend(
                path
                for name in files
                if is_feed_path(path := (relative / name).as_posix()) and self._is_topic(path)
            )
        return sorted(found)

    def _is_feed_file(self, path: str) -> bool:
        return (self.output_dir / path).is_file()


def is_feed_path(path: str) -> bool:
    """A current feed document's path: a feed file name, no hidden or empty segment, and not
    ``…/archive/<n>/<file>``."""
    parts = path.split("/")
    if parts[-1] not in FEED_MEDIA_TYPES:
        return False
    if any(not part or part.startswith(".") or "\\" in part for part in parts):
        return False
    return not (len(parts) >= 3 and parts[-3] == "archive" and parts[-2].isdigit())


@dataclass(frozen=True, slots=True)
class HubRequest:
    """A valid subscription or unsubscription request, its lease already capped."""

    mode: str
    topic: str
    path: str
    callback: str
    lease_seconds: int
    secret: str

    @property
    def subscription_id(self) -> str:
        return subscription_id(self.path, self.callback)


def subscription_id(path: str, callback: str) -> str:
    """One id per (feed, callback): WebSub keys a subscription on topic and callback, so a
    repeated subscribe renews it rather than adding a second one (websub.rocks test 103)."""
    digest = hashlib.sha256(f"{path}\n{callback}".encode()).hexdigest()
    return f"ws_{digest[:32]}"


def parse_request(
    form: Mapping[str, str], topics: Topics, *, max_lease_seconds: int, allow_private: bool
) -> HubRequest:
    """Validate a ``POST /hub`` form; parameters the hub does not know are ignored (§5.1).

    The topic is checked before the callback, so a request for a topic this hub does not serve
    never costs a DNS lookup of whatever host it names.
    """
    for name in HUB_PARAMETERS:
        if any(ord(c) < 32 or ord(c) == 127 for c in form.get(name, "")):
            raise HubError(f"{name} holds a control character")
    mode = form.get("hub.mode", "")
    if mode not in MODES:
        raise HubError(f"hub.mode must be subscribe or unsubscribe, not {mode!r}")
    topic = form.get("hub.topic", "")
    path = topics.path_of(topic)
    if path is None:
        raise HubError(
            f"hub.topic {topic!r} is not a feed of this hub: topics are the rss.xml, atom.xml "
            f"and feed.json documents under {topics.base_url}/"
        )
    return HubRequest(
        mode=mode,
        topic=topic,
        path=path,
        callback=_callback(form.get("hub.callback", ""), allow_private),
        lease_seconds=_lease_seconds(form.get("hub.lease_seconds"), max_lease_seconds),
        secret=_secret(form.get("hub.secret", "")),
    )


def _callback(callback: str, allow_private: bool) -> str:
    if not callback:
        raise HubError("hub.callback is required")
    if len(callback) > MAX_CALLBACK_CHARS:
        raise HubError(f"hub.callback is longer than {MAX_CALLBACK_CHARS} characters")
    try:
        check_target(callback, allow_private=allow_private)
    except TargetRefused as refused:
        raise HubError(f"hub.callback: {refused}") from refused
    return callback


def _lease_seconds(requested: str | None, maximum: int) -> int:
    """The lease asked for, capped at ``websub.max_lease_seconds``; the maximum when not asked."""
    if requested is None or requested == "":
        return maximum
    if not requested.isascii() or not requested.isdigit() or not requested.strip("0"):
        raise HubError(f"hub.lease_seconds must be a positive integer, not {requested[:40]!r}")
    # Compared as text first: int() refuses numbers of more than 4300 digits.
    return (
        maximum if len(requested.lstrip("0")) > len(str(maximum)) else min(int(requested), maximum)
    )


def _secret(secret: str) -> str:
    if len(secret.encode()) >= MAX_SECRET_BYTES:
        raise HubError(f"hub.secret must be less than {MAX_SECRET_BYTES} bytes")
    return secret


def accept(connection: Connection, request: HubRequest, now: datetime) -> None:
    """Record a request answered 202, for the verifier; it outlives a crash of this process."""
    connection.execute(
        insert(websub_requests).values(
            subscription_id=request.subscription_id,
            request=json.dumps(asdict(request)),
            requested_at=now,
            lease_until=None,
        )
    )


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A stored request taken by one verifier."""

    id: int
    request: HubRequest


def claim_requests(
    connection: Connection, now: datetime, *, lease: timedelta, limit: int
) -> list[PendingRequest]:
    """Take up to ``limit`` requests to verify, only the oldest of each subscription.

    Requests for one (topic, callback) are verified in the order they came, one at a time, so a
    quick subscribe then unsubscribe ends unsubscribed. Each is taken with a compare-and-set on
    its lease, so two hub processes never verify one request twice, and a request held by a
    process that died is taken over once its lease has passed. Only the oldest
    ``REQUEST_WINDOW`` requests are looked at, so a flood of requests costs each poll no more.
    """
    rows = connection.execute(
        select(websub_requests).order_by(websub_requests.c.id).limit(REQUEST_WINDOW)
    ).all()
    seen: set[str] = set()
    taken: list[PendingRequest] = []
    for row in rows:
        if len(taken) >= limit:
            break
        if row.subscription_id in seen:
            continue
        seen.add(row.subscription_id)
        free = or_(websub_requests.c.lease_until.is_(None), websub_requests.c.lease_until < now)
        won = connection.execute(
            update(websub_requests)
            .where(websub_requests.c.id == row.id, free)
            .values(lease_until=now + lease)
        ).rowcount
        if won:
            taken.append(PendingRequest(row.id, HubRequest(**json.loads(row.request))))
    return taken


def conclude(
    connection: Connection,
    pending: PendingRequest,
    *,
    verified: bool,
    output_dir: Path,
    now: datetime,
) -> None:
    """Apply a verified request (an unverified one changes nothing) and forget the request.

    A subscription verified again keeps its row and the feed version it has, and takes the new
    lease and secret (§5.1: a re-subscription renews the existing subscription).
    """
    request = pending.request
    if verified and request.mode == "subscribe":
        _subscribe(connection, request, output_dir, now)
    elif verified:
        _delete(connection, websub_subscriptions.c.id == request.subscription_id)
    connection.execute(delete(websub_requests).where(websub_requests.c.id == pending.id))


def _subscribe(
    connection: Connection, request: HubRequest, output_dir: Path, now: datetime
) -> None:
    lease = {
        "topic": request.topic,
        "secret": request.secret,
        "lease_seconds": request.lease_seconds,
        "expires_at": now + timedelta(seconds=request.lease_seconds),
        "renewed_at": now,
    }
    renewed = connection.execute(
        update(websub_subscriptions)
        .where(websub_subscriptions.c.id == request.subscription_id)
        .values(**lease)
    ).rowcount
    if not renewed:
        connection.execute(
            insert(websub_subscriptions).values(
                id=request.subscription_id,
                path=request.path,
                callback=request.callback,
                content_sha256=_digest(output_dir, request.path),
                created_at=now,
                **lease,
            )
        )


def expire(connection: Connection, now: datetime) -> int:
    """Remove subscriptions whose lease has ended, and their deliveries with them."""
    return _delete(connection, websub_subscriptions.c.expires_at <= now)


def _delete(connection: Connection, which: ColumnElement[bool]) -> int:
    """Delete subscriptions, their deliveries (by cascade) and the attempts of those. The
    subscriptions are locked first, so no distribution is queued for them meanwhile (its key
    check waits) whose attempts would escape."""
    chosen = select(websub_subscriptions.c.id).where(which)
    connection.execute(chosen.with_for_update()).close()
    attempts.forget(connection, deliveries.c.websub_subscription_id.in_(chosen))
    return connection.execute(delete(websub_subscriptions).where(which)).rowcount


def enqueue_distribution(connection: Connection, output_dir: Path, now: datetime) -> int:
    """Queue a distribution to every subscriber whose feed changed since it last had it.

    Meant to run after every scan, once the feeds are written. Each subscription remembers the
    digest of the feed version it was last queued (or had when it subscribed), so what counts
    is the file on disk and not a report of what one scan wrote: a crash between writing the
    feeds and this call loses nothing, the next call sees the difference. A subscriber with a
    delivery still pending gets no second one, since a delivery sends the feed as it is when
    sent. Expired subscriptions are removed first. Returns the number of deliveries queued.
    """
    expire(connection, now)
    rows = connection.execute(
        select(
            websub_subscriptions.c.id,
            websub_subscriptions.c.path,
            websub_subscriptions.c.content_sha256,
        )
    ).all()
    digests = {path: _digest(output_dir, path) for path in {row.path for row in rows}}
    changed = [row for row in rows if digests[row.path] not in (None, row.content_sha256)]
    if not changed:
        return 0
    waiting = set(
        connection.execute(
            select(deliveries.c.websub_subscription_id).where(
                deliveries.c.status == DeliveryStatus.PENDING,
                deliveries.c.websub_subscription_id.in_([row.id for row in changed]),
            )
        ).scalars()
    )
    queued = [
        outbox.pending(f"ws_{secrets.token_hex(12)}", now, websub_subscription_id=row.id)
        for row in changed
        if row.id not in waiting
    ]
    if queued:
        connection.execute(insert(deliveries), queued)
        wakeups.queued(connection)
    _remember_versions(connection, changed, digests)
    return len(queued)


def _remember_versions(
    connection: Connection, changed: Sequence[Any], digests: Mapping[str, str | None]
) -> None:
    for path in {row.path for row in changed}:
        connection.execute(
            update(websub_subscriptions)
            .where(websub_subscriptions.c.id.in_([row.id for row in changed if row.path == path]))
            .values(content_sha256=digests[path])
        )


def _digest(output_dir: Path, path: str) -> str | None:
    try:
        return hashlib.sha256((output_dir / path).read_bytes()).hexdigest()
    except OSError:
        return None
