"""``POST /hub``: the WebSub hub's front door (W3C WebSub §5.1).

A valid request is stored and answered ``202 Accepted`` at once; the verifier then checks the
subscriber's intent in the background. An invalid one (unknown topic, bad mode, callback
refused by the SSRF guard, …) gets a 4xx whose plain-text body says why, as §5.1.2 asks, and
nothing is stored or contacted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from syndicator.config import Config
from syndicator.push import websub
from syndicator.push.websub import MAX_SECRET_BYTES, HubError, Topics

FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 16 * 1024
"""A subscription request is a few URLs; anything larger is refused unread."""
MAX_FIELDS = 32

_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hub.mode", "hub.topic", "hub.callback"],
    "properties": {
        "hub.mode": {"type": "string", "enum": list(websub.MODES)},
        "hub.topic": {"type": "string", "description": "URL of a feed this service publishes"},
        "hub.callback": {"type": "string", "description": "the subscriber's callback URL"},
        "hub.lease_seconds": {"type": "integer", "minimum": 1},
        "hub.secret": {"type": "string", "maxLength": MAX_SECRET_BYTES - 1},
    },
}
_TEXT: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}


class _BodyTooLarge(Exception):
    pass


def hub_router(
    config: Config, engine: Engine, topics: Topics, *, on_request: Callable[[], None]
) -> APIRouter:
    """The hub route; ``on_request`` is told of each stored request (to wake the verifier)."""
    router = APIRouter(tags=["websub"])

    def store(form: dict[str, str]) -> None:
        request = websub.parse_request(
            form,
            topics,
            max_lease_seconds=config.websub.max_lease_seconds,
            allow_private=config.push.allow_private_targets,
        )
        with engine.begin() as connection:
            websub.accept(connection, request, datetime.now(UTC))

    @router.post(
        "/hub",
        summary="Subscribe to or unsubscribe from a feed (WebSub)",
        status_code=202,
        response_class=PlainTextResponse,
        openapi_extra={
            "requestBody": {"required": True, "content": {FORM: {"schema": _REQUEST_SCHEMA}}}
        },
        responses={
            202: {"description": "accepted; intent is verified next", **_TEXT},
            400: {"description": "refused, with the reason", **_TEXT},
            413: {"description": "request too large", **_TEXT},
            415: {"description": "not a form", **_TEXT},
        },
    )
    async def hub(request: Request) -> PlainTextResponse:
        """W3C WebSub subscription request; unknown parameters are ignored."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
            return PlainTextResponse(f"the request body must be {FORM}", status_code=415)
        try:
            form = _parse_form(await _read_body(request))
            await run_in_threadpool(store, form)
        except _BodyTooLarge:
            return PlainTextResponse(f"over {MAX_BODY_BYTES} bytes", status_code=413)
        except HubError as refused:
            return PlainTextResponse(refused.reason, status_code=refused.status)
        on_request()
        return PlainTextResponse(
            "accepted: the hub will verify this request with a GET to hub.callback",
            status_code=202,
        )

    return router


async def _read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _BodyTooLarge
    return body


def _parse_form(body: bytes) -> dict[str, str]:
    """The form's fields; a repeated field keeps its first value."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except ValueError as error:
        raise HubError(f"the form cannot be read: {error}") from error
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
