"""Signing in and out of the console, and its stylesheets (the only routes open without a
session, with the sign-in form)."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from syndicator.console import sessions
from syndicator.console.context import PREFIX, Console, Form, FormRefused, posted_by, read_form
from syndicator.console.render import ASSETS, HEADERS, asset


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    Posted = Annotated[Form, Depends(posted_by(console))]

    @routes.get("/static/{name}")
    def stylesheet(name: str) -> Response:
        if name not in ASSETS:
            return Response(status_code=404, headers=HEADERS)
        return asset(name)

    @routes.get("/sign-in")
    def sign_in_form(request: Request, next: str = "") -> Response:
        return _form(console, request, next)

    @routes.post("/sign-in")
    def sign_in(request: Request, form: Annotated[Form, Depends(read_form)]) -> Response:
        given = form.get("csrf")
        if not sessions.csrf_ok(request.cookies.get(sessions.SIGN_IN_COOKIE, ""), given):
            raise FormRefused
        client = request.client.host if request.client else ""
        target = _local(form.get("next"))
        if console.throttle.blocked(client):
            return _form(console, request, target, status=429, message="sign_in_throttled")
        if not sessions.token_matches(form.get("token"), console.config.server.api_token):
            console.throttle.failed(client)
            return _form(console, request, target, status=401, message="sign_in_failed")
        with console.engine.begin() as connection:
            secret = sessions.open_session(connection, console.clock())
        answer = RedirectResponse(target, status_code=303, headers=HEADERS)
        answer.set_cookie(
            sessions.COOKIE,
            secret,
            max_age=int(sessions.LIFETIME.total_seconds()),
            path=PREFIX,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        answer.delete_cookie(sessions.SIGN_IN_COOKIE, path=PREFIX)
        return answer

    @routes.post("/sign-out")
    def sign_out(request: Request, _: Posted) -> Response:
        with console.engine.begin() as connection:
            found = sessions.find(connection, request.cookies.get(sessions.COOKIE), console.clock())
            if found is not None:
                sessions.close(connection, found)
        answer = RedirectResponse(
            f"{PREFIX}/sign-in?done=signed_out", status_code=303, headers=HEADERS
        )
        answer.delete_cookie(sessions.COOKIE, path=PREFIX)
        return answer

    return routes


def _local(target: str) -> str:
    """Where to go after signing in: a console page, never another site."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _form(
    console: Console, request: Request, target: str, *, status: int = 200, message: str = ""
) -> Response:
    """The sign-in form, with a fresh token in the form and in a cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    answer = console.views.page(
        request,
        "sign_in.html",
        status=status,
        csrf=token,
        signed_in=False,
        next=_local(target),
        message=message,
        signed_out=request.query_params.get("done") == "signed_out",
    )
    answer.set_cookie(
        sessions.SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer
