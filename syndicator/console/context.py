"""What every console route shares: the service's parts, the session check and the checked
form."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy import Connection, Engine

from syndicator.config import Config
from syndicator.console import sessions
from syndicator.console.catalog import FeedCatalog
from syndicator.console.render import Views
from syndicator.push import subscriptions as subs
from syndicator.push.websub import Topics

PREFIX = "/console"
MAX_FORM_BYTES = 64 * 1024


class SignInNeeded(Exception):
    """No session, or an ended one: the answer is the sign-in form."""


class FormRefused(Exception):
    """A form without the session's CSRF token: nothing was done."""


@dataclass
class Console:
    """What every console route reads from."""

    config: Config
    engine: Engine
    topics: Topics
    views: Views
    catalog: FeedCatalog
    clock: Callable[[], datetime]
    on_change: Callable[[], None] | None = None
    throttle: sessions.Throttle = field(default_factory=sessions.Throttle)

    def changed(self) -> None:
        """Deliveries were queued: an in-process deliverer looks at once."""
        if self.on_change is not None:
            self.on_change()


class Form:
    """A posted ``application/x-www-form-urlencoded`` form."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, [default])[0]

    def all(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v]


async def read_form(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))


def session_of(console: Console) -> Callable[[Request], sessions.Session]:
    def signed_in(request: Request) -> sessions.Session:
        with console.engine.begin() as connection:
            found = sessions.find(connection, request.cookies.get(sessions.COOKIE), console.clock())
        if found is None:
            raise SignInNeeded
        return found

    return signed_in


def posted_by(console: Console) -> Callable[..., object]:
    """A dependency: the form, once the session and its CSRF token are checked (in that
    order, so a form from nobody leads to the sign-in, not to a CSRF refusal)."""
    signed_in = session_of(console)

    async def checked(
        session: Annotated[sessions.Session, Depends(signed_in)],
        form: Annotated[Form, Depends(read_form)],
    ) -> Form:
        if not sessions.csrf_ok(session.csrf, form.get("csrf", "") or None):
            raise FormRefused
        return form

    return checked


SubscriptionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""Path parameters as the API takes them."""


def found_subscription(connection: Connection, subscription_id: str) -> subs.Subscription:
    """The subscription, or a 404 page."""
    found = subs.get(connection, subscription_id)
    if found is None:
        raise HTTPException(404, f"no subscription {subscription_id}")
    return found
