"""The console's pages: what they read, through the same functions as the API and the CLI.

Every list is a page of ``PAGE`` rows at most, with a link to the next: by cursor where the
store pages by one (``before``/``after``: rows added meanwhile never shift a page), by offset
where the API does too (items, feeds).
"""

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import Connection
from starlette.responses import Response

from syndicator.console import sessions
from syndicator.console.context import (
    Console,
    RowId,
    SubscriptionId,
    found_subscription,
    session_of,
)
from syndicator.console.render import Cursor, next_link, with_param
from syndicator.push import history, subscribers
from syndicator.push import subscriptions as subs
from syndicator.push.status import DeliveryStatus
from syndicator.store import records
from syndicator.store.records import EVENT_TYPES

PAGE = 50
ATTENTION = 20
Start = Annotated[int, Query(ge=0, le=2**31 - 1)]
ITEM_STATES = ("published", "scheduled", "draft", "unpublished")


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    Session = Annotated[sessions.Session, Depends(session_of(console))]
    views, engine = console.views, console.engine

    @routes.get("/")
    def overview(request: Request, session: Session) -> Response:
        now = console.clock()
        with engine.connect() as connection:
            last = records.get_setting(connection, records.LAST_SCAN)
            periods = [
                (key, history.counts_since(connection, now - span))
                for key, span in (
                    ("last_hour", timedelta(hours=1)),
                    ("last_day", timedelta(days=1)),
                )
            ]
            context: dict[str, Any] = {
                "queue_depth": history.queue_depth(connection, now),
                "items": records.count_items(connection),
                "attention": subs.needing_attention(connection, limit=ATTENTION),
            }
        scanned = datetime.fromisoformat(last) if last else None
        return views.page(
            request,
            "overview.html",
            csrf=session.csrf,
            last_scan=scanned,
            scan_age=round((now - scanned).total_seconds()) if scanned else None,
            periods=[(key, counts, _failure_rate(counts)) for key, counts in periods],
            **context,
        )

    @routes.get("/subscriptions")
    def subscription_list(
        request: Request,
        session: Session,
        state: Annotated[str, Query(pattern=r"^(|enabled|disabled)$")] = "",
        before: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = None,
    ) -> Response:
        enabled = {"enabled": True, "disabled": False}.get(state)
        with engine.connect() as connection:
            try:
                found = subs.page(connection, limit=PAGE, before=before, enabled=enabled)
            except subs.SubscriptionError as error:
                raise HTTPException(400, str(error)) from error
            rows = [(s, history.last_settled(connection, s.id)) for s in found]
        return views.page(
            request,
            "subscriptions.html",
            csrf=session.csrf,
            rows=rows,
            state=state,
            more=next_link(request, found, PAGE, found[-1].id if found else None),
        )

    @routes.get("/subscriptions/new")
    def new_subscription(request: Request, session: Session) -> Response:
        with engine.connect() as connection:
            return views.page(
                request, "new.html", csrf=session.csrf, **_choices(console, connection)
            )

    @routes.get("/subscriptions/{subscription_id}")
    def subscription(
        request: Request,
        session: Session,
        subscription_id: SubscriptionId,
        status: DeliveryStatus | None = None,
        before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ) -> Response:
        with engine.connect() as connection:
            found = found_subscription(connection, subscription_id)
            shown = history.list_deliveries(
                connection, status=status, limit=PAGE, before=before, subscription_id=found.id
            )
            last = history.last_settled(connection, found.id)
            choices = _choices(console, connection)
        return views.page(
            request,
            "subscription.html",
            csrf=session.csrf,
            sub=found,
            last=last,
            deliveries=shown,
            chosen_status=status or "",
            statuses=list(DeliveryStatus),
            more=next_link(request, shown, PAGE, shown[-1].id if shown else None),
            **choices,
        )

    @routes.get("/subscriptions/{subscription_id}/delete")
    def confirm_delete(
        request: Request, session: Session, subscription_id: SubscriptionId
    ) -> Response:
        with engine.connect() as connection:
            found = found_subscription(connection, subscription_id)
        return views.page(request, "delete.html", csrf=session.csrf, sub=found)

    @routes.get("/deliveries")
    def delivery_list(
        request: Request,
        session: Session,
        status: DeliveryStatus | None = None,
        before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ) -> Response:
        with engine.connect() as connection:
            shown = history.list_deliveries(connection, status=status, limit=PAGE, before=before)
        return views.page(
            request,
            "deliveries.html",
            csrf=session.csrf,
            deliveries=shown,
            chosen_status=status or "",
            statuses=list(DeliveryStatus),
            more=next_link(request, shown, PAGE, shown[-1].id if shown else None),
        )

    @routes.get("/deliveries/{delivery_id}")
    def delivery(
        request: Request,
        session: Session,
        delivery_id: RowId,
    ) -> Response:
        with engine.connect() as connection:
            found = history.find(connection, delivery_id)
        if found is None:
            raise HTTPException(404, f"no delivery {delivery_id}")
        return views.page(request, "delivery.html", csrf=session.csrf, d=found)

    @routes.get("/websub")
    def websub(
        request: Request,
        session: Session,
        feed: Annotated[str, Query(max_length=1024)] = "",
        after: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")] = None,
    ) -> Response:
        now = console.clock()
        with engine.connect() as connection:
            found = subscribers.active(connection, now, limit=PAGE, after=after, path=feed or None)
            last = subscribers.last_distributions(connection, [s["id"] for s in found])
        return views.page(
            request,
            "websub.html",
            csrf=session.csrf,
            rows=[(s, last.get(s["id"])) for s in found],
            feed=feed,
            feeds=console.topics.published(),
            more=next_link(request, found, PAGE, found[-1]["id"] if found else None, "after"),
        )

    @routes.get("/feeds")
    def feeds(
        request: Request,
        session: Session,
        kind: Annotated[str, Query(pattern=r"^(|site|category|tag)$")] = "",
        name: Annotated[str, Query(max_length=200)] = "",
        start: Start = 0,
    ) -> Response:
        with engine.connect() as connection:
            every = console.catalog.feeds(connection)
        chosen = [
            f
            for f in every
            if (not kind or f.kind == kind) and name.casefold() in f.name.casefold()
        ]
        return views.page(
            request,
            "feeds.html",
            csrf=session.csrf,
            rows=chosen[start : start + PAGE],
            kind=kind,
            name=name,
            more=_offset_link(request, start, len(chosen)),
        )

    @routes.get("/items")
    def items(
        request: Request,
        session: Session,
        state: Annotated[str, Query(pattern=r"^(|published|scheduled|draft|unpublished)$")] = "",
        start: Start = 0,
    ) -> Response:
        with engine.connect() as connection:
            found = records.list_items(connection, state=state or None, limit=PAGE, offset=start)
        return views.page(
            request,
            "items.html",
            csrf=session.csrf,
            rows=[(r, _title(r)) for r in found],
            state=state,
            states=ITEM_STATES,
            more=_offset_link(request, start, start + len(found) + (len(found) == PAGE)),
        )

    @routes.get("/items/{key:path}")
    def item(
        request: Request,
        session: Session,
        key: str,
        before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ) -> Response:
        with engine.connect() as connection:
            found = records.get_item(connection, key)
            if found is None:
                raise HTTPException(404, f"no item {key}")
            log = records.item_events(connection, key, limit=PAGE, before=before)
        return views.page(
            request,
            "item.html",
            csrf=session.csrf,
            item=found,
            title=_title(found),
            events=log,
            more=next_link(request, log, PAGE, log[-1].id if log else None),
        )

    return routes


def _choices(console: Console, connection: Connection) -> dict[str, Any]:
    """What a subscription may be filtered on, as the form offers it."""
    return {
        "event_types": EVENT_TYPES,
        "categories": console.catalog.choices(connection, "category"),
        "tags": console.catalog.choices(connection, "tag"),
    }


def _failure_rate(counts: dict[DeliveryStatus, int]) -> float | None:
    """Failed among the settled (delivered or failed); None when none settled."""
    settled = counts.get(DeliveryStatus.DELIVERED, 0) + counts.get(DeliveryStatus.FAILED, 0)
    return counts.get(DeliveryStatus.FAILED, 0) / settled if settled else None


def _offset_link(request: Request, start: int, total: int) -> Cursor:
    """``?start=`` the next page, while rows remain past this one."""
    if start + PAGE >= total:
        return Cursor(None)
    return Cursor(with_param(request, "start", str(start + PAGE)))


def _title(record: records.ItemRecord) -> str:
    """The item's title as last announced (its key when it has none)."""
    return str(json.loads(record.data).get("title") or record.key) if record.data else record.key
