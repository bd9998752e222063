"""The REST API under ``/api``: webhook subscriptions, the delivery log, WebSub subscribers,
items and feeds.

Guarded by one bearer token, ``server.api_token``; with none configured every call is refused
(403), so forgetting the token never leaves the API open. The API goes through the same
functions as the command line (``syndicator.push.subscriptions``, ``syndicator.push.history``),
so both validate, store and replay alike; it runs no SQL of its own. Lists are pages, newest
first: ``limit`` rows before the ``before`` cursor, and a ``Link: <…>; rel="next"`` header
while there may be more.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes made
# inside ``api_router``, and string annotations could not name its local ``Store``.

import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Connection, Engine

from syndicator.config import Config
from syndicator.push import history, subscribers
from syndicator.push import subscriptions as subs
from syndicator.push.guard import TargetRefused
from syndicator.push.history import DeliveryView
from syndicator.push.status import DeliveryStatus
from syndicator.push.websub import Topics
from syndicator.store import records
from syndicator.store.records import EventType, ItemRecord
from syndicator.vocabulary import FEED_MEDIA_TYPES
from syndicator.web.problems import responses

MAX_ID = 2**31 - 1
"""Delivery ids are 32-bit integers in PostgreSQL; a larger one cannot exist."""

Text = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[^\x00-\x1f\x7f]*$")]
"""Free text as the store can hold it: no control characters (PostgreSQL refuses NUL)."""
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]
SubscriptionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]
FeedKind = Literal["site", "category", "tag"]
FeedFormat = Literal["rss", "atom", "json"]
FORMATS: dict[str, FeedFormat] = {"rss.xml": "rss", "atom.xml": "atom", "feed.json": "json"}
_KINDS: dict[str, FeedKind] = {"categories": "category", "tags": "tag"}


class SubscriptionIn(BaseModel):
    """A new webhook subscription; empty categories and tags mean every item."""

    model_config = ConfigDict(extra="forbid")
    url: Text
    categories: list[Name] = Field(default_factory=list, max_length=100)
    tags: list[Name] = Field(default_factory=list, max_length=100)
    event_types: list[EventType] = Field(default=["item.published"])
    secret: Text | None = Field(None, description="whsec_… to use instead of a generated one")
    description: Text = ""


class SubscriptionPatch(BaseModel):
    """Fields to change; those left out (or null) keep their value."""

    model_config = ConfigDict(extra="forbid")
    url: Text | None = None
    categories: list[Name] | None = Field(None, max_length=100)
    tags: list[Name] | None = Field(None, max_length=100)
    event_types: list[EventType] | None = None
    description: Text | None = None
    enabled: bool | None = Field(None, description="false disables, true enables again")


class SubscriptionOut(BaseModel):
    id: str
    url: str
    categories: list[str]
    tags: list[str]
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: str


class CreatedSubscription(SubscriptionOut):
    secret: str = Field(description="the signing secret, shown this once only")


class WebSubSubscriptionOut(BaseModel):
    id: str
    topic: str
    path: str
    callback: str
    signed: bool = Field(description="whether distributions carry X-Hub-Signature")
    lease_seconds: int
    expires_at: str
    created_at: str
    renewed_at: str


class ItemOut(BaseModel):
    key: str
    item_id: str
    state: str
    published_at: str | None
    updated_at: str | None
    data: dict[str, Any] = Field(description="the JSON Feed 1.1 item last announced")


class FeedOut(BaseModel):
    path: str
    url: str
    kind: FeedKind
    slug: str | None
    format: FeedFormat
    content_type: str
    size: int
    last_modified: str
    websub_subscribers: int


def api_router(
    config: Config,
    engine: Engine,
    topics: Topics,
    *,
    on_change: Callable[[], None] | None = None,
) -> APIRouter:
    """Every ``/api`` route; ``on_change`` is told when deliveries were queued (a replay)."""
    router = APIRouter(
        prefix="/api",
        dependencies=[Depends(_bearer(config.server.api_token))],
        responses=responses(401, 403, 422),
    )

    def store() -> Iterator[Connection]:
        with engine.begin() as connection:
            yield connection

    # Committed before the answer leaves ("function" scope): a client's next request must see
    # what this one changed.
    Store = Annotated[Connection, Depends(store, scope="function")]

    @router.get("/subscriptions", tags=["subscriptions"], responses=responses(400))
    def list_subscriptions(
        connection: Store,
        request: Request,
        response: Response,
        limit: Limit = 100,
        before: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = None,
    ) -> list[SubscriptionOut]:
        """Newest first; ``before`` is the id of the last subscription of the previous page."""
        try:
            found = subs.page(connection, limit=limit, before=before)
        except subs.SubscriptionError as error:
            raise HTTPException(400, str(error)) from error
        _link_next(request, response, found, limit, found[-1].id if found else None)
        return [SubscriptionOut(**s.public()) for s in found]

    @router.post(
        "/subscriptions",
        tags=["subscriptions"],
        status_code=201,
        responses=responses(400),
    )
    def create_subscription(
        body: SubscriptionIn, connection: Store, response: Response
    ) -> CreatedSubscription:
        """Subscribe an endpoint; the answer holds its secret, which is never shown again."""
        created = _checked(
            lambda: subs.new_subscription(
                **body.model_dump(),
                allow_private=config.push.allow_private_targets,
                now=datetime.now(UTC),
            )
        )
        subs.add(connection, created)
        response.headers["Location"] = f"/api/subscriptions/{created.id}"
        return CreatedSubscription(**created.public(), secret=created.secret)

    @router.get(
        "/subscriptions/{subscription_id}", tags=["subscriptions"], responses=responses(404)
    )
    def read_subscription(subscription_id: SubscriptionId, connection: Store) -> SubscriptionOut:
        return SubscriptionOut(**_found(connection, subscription_id).public())

    @router.patch(
        "/subscriptions/{subscription_id}", tags=["subscriptions"], responses=responses(400, 404)
    )
    def update_subscription(
        subscription_id: SubscriptionId, body: SubscriptionPatch, connection: Store
    ) -> SubscriptionOut:
        """Change filters, URL or description, or disable / enable again."""
        current = _found(connection, subscription_id)
        subs.save(connection, _edited(current, body, config.push.allow_private_targets))
        if body.enabled is False and current.enabled:
            subs.disable(connection, current.id, "disabled through the API")
        return SubscriptionOut(**_found(connection, subscription_id).public())

    @router.delete(
        "/subscriptions/{subscription_id}",
        tags=["subscriptions"],
        status_code=204,
        responses=responses(404),
    )
    def delete_subscription(subscription_id: SubscriptionId, connection: Store) -> Response:
        """Delete a subscription and its deliveries."""
        if not subs.remove(connection, subscription_id):
            raise HTTPException(404, f"no subscription {subscription_id}")
        return Response(status_code=204)

    @router.get("/deliveries", tags=["deliveries"])
    def list_deliveries(
        connection: Store,
        request: Request,
        response: Response,
        status: DeliveryStatus | None = None,
        limit: Limit = 100,
        before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> list[DeliveryView]:
        """Newest first, each with every attempt (webhooks and WebSub alike); ``before`` is
        the id of the last delivery of the previous page."""
        found = history.list_deliveries(connection, status=status, limit=limit, before=before)
        _link_next(request, response, found, limit, found[-1].id if found else None)
        return found

    @router.get("/deliveries/{delivery_id}", tags=["deliveries"], responses=responses(404))
    def read_delivery(delivery_id: DeliveryId, connection: Store) -> DeliveryView:
        return _delivery(connection, delivery_id)

    @router.post(
        "/deliveries/{delivery_id}/replay",
        tags=["deliveries"],
        status_code=202,
        responses=responses(404, 409),
    )
    def replay_delivery(delivery_id: DeliveryId) -> DeliveryView:
        """Queue a delivered or failed delivery again, with the same webhook-id."""
        with engine.begin() as connection:
            _delivery(connection, delivery_id)
            refused = history.replay(connection, delivery_id, datetime.now(UTC))
            if refused:
                raise HTTPException(409, f"cannot replay delivery {delivery_id}: {refused}")
        if on_change is not None:
            on_change()
        with engine.connect() as connection:
            return _delivery(connection, delivery_id)

    @router.get("/websub/subscriptions", tags=["websub"])
    def list_websub_subscriptions(connection: Store) -> list[WebSubSubscriptionOut]:
        """WebSub subscriptions in force (made through ``POST /hub``), without their secrets."""
        return [
            WebSubSubscriptionOut(**s) for s in subscribers.active(connection, datetime.now(UTC))
        ]

    @router.get("/items", tags=["items"])
    def list_items(
        connection: Store,
        state: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z]+$")] = None,
        limit: Limit = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> list[ItemOut]:
        """Every item the store knows (published, draft, scheduled, unpublished), newest first."""
        return [
            _item(record)
            for record in records.list_items(connection, state=state, limit=limit, offset=offset)
        ]

    @router.get("/feeds", tags=["feeds"])
    def list_feeds(connection: Store) -> list[FeedOut]:
        """Every feed document being published, with its WebSub subscriber count."""
        counts = subscribers.subscriber_counts(connection, datetime.now(UTC))
        return [
            feed for path in topics.published() if (feed := _feed(topics, path, counts)) is not None
        ]

    return router


def _bearer(token: str) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    scheme = HTTPBearer(auto_error=False, description="server.api_token")

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> None:
        if not token:
            raise HTTPException(403, "the API is off: no server.api_token is configured")
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    return authorised


def _checked(make: Callable[[], subs.Subscription]) -> subs.Subscription:
    """The subscription ``make`` builds, or 422 with what is wrong with it."""
    try:
        return make()
    except (ValueError, TargetRefused) as error:
        raise HTTPException(422, str(error)) from error


def _edited(
    current: subs.Subscription, patch: SubscriptionPatch, allow_private: bool
) -> subs.Subscription:
    return _checked(
        lambda: subs.edited(
            current,
            patch.model_dump(exclude_none=True, exclude={"enabled"}),
            enable=bool(patch.enabled),
            allow_private=allow_private,
        )
    )


def _found(connection: Connection, subscription_id: str) -> subs.Subscription:
    found = subs.get(connection, subscription_id)
    if found is None:
        raise HTTPException(404, f"no subscription {subscription_id}")
    return found


def _delivery(connection: Connection, delivery_id: int) -> DeliveryView:
    found = history.find(connection, delivery_id)
    if found is None:
        raise HTTPException(404, f"no delivery {delivery_id}")
    return found


def _link_next(
    request: Request, response: Response, page: Sequence[object], limit: int, last: object
) -> None:
    """``Link: <…?before=last>; rel="next"`` when the page is full (there may be more)."""
    if len(page) == limit and last is not None:
        url = request.url.include_query_params(before=str(last))
        response.headers["Link"] = f'<{url}>; rel="next"'


def _item(record: ItemRecord) -> ItemOut:
    return ItemOut(
        key=record.key,
        item_id=record.item_id,
        state=record.state,
        published_at=record.published_at.isoformat() if record.published_at else None,
        updated_at=record.updated_at.isoformat() if record.updated_at else None,
        data=json.loads(record.data),
    )


def _feed(topics: Topics, path: str, counts: dict[str, int]) -> FeedOut | None:
    """One feed document, or None if it went away since the folder was listed."""
    try:
        stat = (topics.output_dir / path).stat()
    except OSError:
        return None
    parts = PurePosixPath(path).parts
    kind: FeedKind = _KINDS.get(parts[0], "site") if len(parts) == 3 else "site"
    return FeedOut(
        path=path,
        url=topics.url_of(path),
        kind=kind,
        slug=parts[1] if kind != "site" else None,
        format=FORMATS[parts[-1]],
        content_type=FEED_MEDIA_TYPES[parts[-1]],
        size=stat.st_size,
        last_modified=formatdate(stat.st_mtime, usegmt=True),
        websub_subscribers=counts.get(path, 0),
    )
