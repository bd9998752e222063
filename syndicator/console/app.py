"""The operator console under ``/console/``: an app of its own, mounted by ``syndicator.web``,
so that its errors are pages for people and a missing session leads to the sign-in form.

Every route but the sign-in form and the stylesheets needs a session; every form posted needs
the session's CSRF token as well. What a page reads and what a form changes goes through the
functions the API and the command line use (``syndicator.push``, ``syndicator.store.records``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from syndicator.config import Config
from syndicator.console import actions, auth, reads
from syndicator.console.catalog import FeedCatalog
from syndicator.console.context import PREFIX, Console, FormRefused, SignInNeeded
from syndicator.console.render import HEADERS, Views
from syndicator.push.websub import Topics


def console_app(
    config: Config,
    engine: Engine,
    topics: Topics,
    *,
    on_change: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The console's app, to mount at ``PREFIX``; only when an API token is set."""
    console = Console(
        config,
        engine,
        topics,
        Views(config),
        FeedCatalog(topics, config.site.title),
        clock,
        on_change,
    )
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def sign_in_first(request: Request, _: Exception) -> Response:
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(
            f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303, headers=HEADERS
        )

    async def refused(request: Request, _: Exception) -> Response:
        return console.views.page(request, "error.html", status=403, message_key="csrf_refused")

    async def error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        detail = exc.detail if isinstance(exc, HTTPException) else "invalid request"
        return console.views.page(
            request, "error.html", status=status, message_key=None, detail=str(detail)
        )

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(FormRefused, refused)
    app.add_exception_handler(HTTPException, error)
    app.add_exception_handler(RequestValidationError, error)
    app.include_router(auth.router(console))
    app.include_router(reads.router(console))
    app.include_router(actions.router(console))
    return app
