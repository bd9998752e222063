"""The HTTP service of ``syndicator run``: hub, API, health and metrics, then the feed files.

One ASGI app: ``POST /hub`` (WebSub), ``/api/…`` (REST, OpenAPI at ``/openapi.json``),
``/healthz``, ``/metrics``, the operator console under ``/console/`` (``syndicator.console``,
only with an API token); every other request goes to the output folder (``static.py``).
The folder is the router's fallback rather than a mount at ``/``: a mount matches every method,
so a request with the wrong method for an API route would reach the folder and be told 405 with
``Allow: GET, HEAD``; as the fallback it only gets what no route claims, and a route answers a
wrong method with its own 405.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from syndicator.config import Config
from syndicator.console.app import console_app
from syndicator.console.context import PREFIX as CONSOLE
from syndicator.push.verifier import Verifier
from syndicator.push.websub import Topics
from syndicator.web import problems
from syndicator.web.api import api_router
from syndicator.web.health import health_router
from syndicator.web.hub import hub_router
from syndicator.web.static import feed_files_app

Clock = Callable[[], datetime]


def _clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: Config,
    engine: Engine,
    *,
    on_change: Callable[[], None] | None = None,
    is_topic: Callable[[str], bool] | None = None,
    clock: Clock = _clock,
) -> FastAPI:
    """The service's app. ``on_change`` is called when the API queued deliveries (so the
    deliverer, in this process or woken through a pipe, looks at once); ``is_topic`` overrides
    which feed paths the hub accepts (default: a feed file present in the output folder).

    Its lifespan runs the WebSub verifier, so serve it with lifespan on (``Server`` does).
    """
    output_dir = Path(config.output.dir)
    topics = Topics(output_dir, config.base_url, is_topic)
    verifier = Verifier(config, engine, clock=clock) if config.hub_url else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if verifier is not None:
            verifier.start()
        try:
            yield
        finally:
            if verifier is not None:
                await run_in_threadpool(verifier.stop)

    app = FastAPI(
        title="syndicator",
        summary="Feeds of a Jekyll-style content folder: webhooks, WebSub, items and feeds.",
        version="1",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    problems.install(app)
    if verifier is not None:
        app.include_router(hub_router(config, engine, topics, on_request=verifier.wake))
    app.include_router(api_router(config, engine, topics, on_change=on_change))
    app.include_router(health_router(config, engine, clock))
    if config.server.api_token:
        console = console_app(config, engine, topics, on_change=on_change, clock=clock)
        app.mount(CONSOLE, console, name="console")
    static = feed_files_app(output_dir, base_url=config.base_url, hub_url=config.hub_url)
    app.router.default = _api_or(static, console_on=bool(config.server.api_token))
    return app


def _api_or(static: ASGIApp, *, console_on: bool) -> ASGIApp:
    """The feed files for whatever no route claimed, but a problem for unknown ``/api`` paths
    and never a file for a ``/console`` path."""

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            missing = problems.problem(404, f"no API resource at {scope['path']}")
            await missing(scope, receive, send)
            return
        if scope["type"] == "http" and (scope["path"] + "/").startswith(CONSOLE + "/"):
            # The mount takes /console/…; /console alone leads there. No API token, no
            # console: not even its sign-in form is there.
            answer = (
                RedirectResponse(CONSOLE + "/", status_code=308)
                if console_on
                else PlainTextResponse("Not Found", status_code=404)
            )
            await answer(scope, receive, send)
            return
        await static(scope, receive, send)

    return fallback
