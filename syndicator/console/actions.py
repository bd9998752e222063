"""What the console's forms change, each through the function the API or the CLI calls for the
same action; every form is checked for its session and CSRF token before anything is read.
After a change the browser is sent back to a page (303) that says what was done, so reloading
it changes nothing; only a new secret is shown in the answer itself, once."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from syndicator.console.context import (
    PREFIX,
    Console,
    Form,
    RowId,
    SubscriptionId,
    found_subscription,
    posted_by,
)
from syndicator.console.render import HEADERS
from syndicator.push import history, outbox
from syndicator.push import subscriptions as subs
from syndicator.push.guard import TargetRefused


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    Posted = Annotated[Form, Depends(posted_by(console))]
    allow_private = console.config.push.allow_private_targets

    def refused(request: Request, form: Form, reason: str) -> Response:
        return console.views.page(
            request,
            "error.html",
            status=422,
            csrf=form.get("csrf"),
            message_key=None,
            detail=str(console.views.labels(request)("refused", reason=reason)),
        )

    @routes.post("/subscriptions")
    def create(request: Request, form: Posted) -> Response:
        try:
            created = subs.new_subscription(
                **_fields(form), allow_private=allow_private, now=console.clock()
            )
        except (ValueError, TargetRefused) as error:
            return refused(request, form, str(error))
        with console.engine.begin() as connection:
            subs.add(connection, created)
        return console.views.page(
            request,
            "secret.html",
            status=201,
            csrf=form.get("csrf"),
            sub=created,
            secret=created.secret,
            done_key="done_created",
        )

    @routes.post("/subscriptions/{subscription_id}/edit")
    def edit(request: Request, form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            current = found_subscription(connection, subscription_id)
            try:
                changed = subs.edited(
                    current, _fields(form), enable=False, allow_private=allow_private
                )
            except (ValueError, TargetRefused) as error:
                return refused(request, form, str(error))
            subs.save(connection, changed)
        return _back(subscription_id, "saved")

    @routes.post("/subscriptions/{subscription_id}/disable")
    def disable(form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            found_subscription(connection, subscription_id)
            subs.disable(connection, subscription_id, "disabled in the console")
        return _back(subscription_id, "disabled")

    @routes.post("/subscriptions/{subscription_id}/enable")
    def enable(form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            current = found_subscription(connection, subscription_id)
            subs.save(
                connection,
                subs.edited(current, {}, enable=True, allow_private=allow_private),
            )
        return _back(subscription_id, "enabled")

    @routes.post("/subscriptions/{subscription_id}/rotate")
    def rotate(request: Request, form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            secret = subs.rotate(connection, subscription_id)
            if secret is None:
                raise HTTPException(404, f"no subscription {subscription_id}")
            found = found_subscription(connection, subscription_id)
        return console.views.page(
            request,
            "secret.html",
            csrf=form.get("csrf"),
            sub=found,
            secret=secret,
            done_key="done_rotated",
        )

    @routes.post("/subscriptions/{subscription_id}/test")
    def test(form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            found_subscription(connection, subscription_id)
            delivery_id = outbox.send_test(connection, subscription_id, console.clock())
        console.changed()
        return _see(f"{PREFIX}/deliveries/{delivery_id}?done=test")

    @routes.post("/subscriptions/{subscription_id}/delete")
    def delete(form: Posted, subscription_id: SubscriptionId) -> Response:
        with console.engine.begin() as connection:
            if not subs.remove(connection, subscription_id):
                raise HTTPException(404, f"no subscription {subscription_id}")
        return _see(f"{PREFIX}/subscriptions?done=deleted")

    @routes.post("/subscriptions/{subscription_id}/replay-failed")
    def replay_failed(request: Request, form: Posted, subscription_id: SubscriptionId) -> Response:
        try:
            since, until = (_utc(form.get(name)) for name in ("since", "until"))
        except ValueError as error:
            return refused(request, form, str(error))
        with console.engine.begin() as connection:
            found_subscription(connection, subscription_id)
            count = history.replay_failed(
                connection, subscription_id, since, until, console.clock()
            )
        console.changed()
        return console.views.page(
            request,
            "replayed.html",
            csrf=form.get("csrf"),
            count=count,
            subscription_id=subscription_id,
        )

    @routes.post("/deliveries/{delivery_id}/replay")
    def replay(request: Request, form: Posted, delivery_id: RowId) -> Response:
        with console.engine.begin() as connection:
            why = history.replay(connection, delivery_id, console.clock())
        if why is not None:
            return refused(request, form, why)
        console.changed()
        return _see(f"{PREFIX}/deliveries/{delivery_id}?done=replayed")

    return routes


def _fields(form: Form) -> dict[str, Any]:
    """A subscription's fields as its create and edit forms post them."""
    return {
        "url": form.get("url").strip(),
        "description": form.get("description"),
        "categories": form.all("categories"),
        "tags": form.all("tags"),
        "event_types": form.all("event_types"),
    }


def _utc(value: str) -> datetime:
    """A time from a ``datetime-local`` field, read as UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _back(subscription_id: str, done: str) -> Response:
    return _see(f"{PREFIX}/subscriptions/{subscription_id}?done={done}")


def _see(target: str) -> Response:
    return RedirectResponse(target, status_code=303, headers=HEADERS)
