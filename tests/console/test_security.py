"""What keeps the console to its operators: no session, no page; no CSRF token, no change; the
wrong token, no session; a secret shown once; and whatever an endpoint or an address holds is
shown as text (checked in Chromium, where a script would run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from playwright.sync_api import expect
from sqlalchemy import create_engine

from syndicator.config import Config, ServerConfig
from syndicator.console.app import console_app
from syndicator.push.websub import Topics

from .conftest import TOKEN, csrf_of, wait_until

OPEN = {"/sign-in", "/static/{name}"}
"""The only routes reachable without a session: the form to get one, and its stylesheets."""


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) of the console app, as it declares them."""
    config = Config(server=ServerConfig(api_token="x"))
    app = console_app(config, create_engine("sqlite://"), Topics(Path("."), "https://x.org"))
    routes = [r for included in app.routes for r in _flat(included)]
    return sorted(
        (method, route.path)
        for route in routes
        if route.path not in OPEN
        for method in route.methods
    )


def _flat(route: object) -> list[APIRoute]:
    """The routes of an included router (FastAPI keeps them behind a wrapper), or the route."""
    if isinstance(route, APIRoute):
        return [route]
    inner = getattr(route, "original_router", None)
    return [r for child in getattr(inner, "routes", []) for r in _flat(child)]


def _concrete(path: str, subscription_id: str) -> str:
    values = {
        "{subscription_id}": subscription_id,
        "{delivery_id}": "1",
        "{key:path}": "_posts/base.md",
    }
    for name, value in values.items():
        path = path.replace(name, value)
    return "/console" + path


def _state(console) -> list[object]:
    """Everything a form could change."""
    return [
        console.site.sql(f"SELECT * FROM {table} ORDER BY 1")
        for table in ("subscriptions", "deliveries", "events")
    ]


def test_every_route_without_a_session_leads_to_the_sign_in_form(console):
    subscription_id = console.site.subscribe("http://127.0.0.1:9/hook")
    routes = _routes()
    assert len(routes) >= 20, routes
    before = _state(console)
    with console.client() as client:
        for method, path in routes:
            answer = client.request(method, _concrete(path, subscription_id), data={"csrf": "x"})
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/console/sign-in?next="), (method, path)
        assert client.get("/console").headers["location"].endswith("/console/")
        # Someone else's cookie value is no session either.
        client.cookies.set("syndicator_console", "forged", path="/console")
        assert client.get("/console/").status_code == 303
    assert _state(console) == before


def test_without_an_api_token_there_is_no_console(site):
    site.configure(server={"api_token": ""})
    site.run()
    with __import__("httpx").Client(base_url=site.served_at(), timeout=120) as client:
        for path in ("/console/", "/console", "/console/sign-in", "/console/static/console.css"):
            assert client.get(path).status_code == 404, path


def test_a_wrong_token_does_not_sign_in_and_guessing_is_limited(console):
    with console.client() as client:
        for n in range(5):
            form = client.get("/console/sign-in")
            answer = client.post(
                "/console/sign-in", data={"csrf": csrf_of(form.text), "token": f"guess-{n}"}
            )
            assert answer.status_code == 401
            assert "syndicator_console=" not in answer.headers.get("set-cookie", "")
        form = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf": csrf_of(form.text), "token": TOKEN})
        assert answer.status_code == 429
        assert "syndicator_console=" not in answer.headers.get("set-cookie", "")
        assert client.get("/console/").status_code == 303
    # Nor does the right token without the sign-in form's own CSRF token.
    with console.client() as client:
        client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf": "wrong", "token": TOKEN})
        assert answer.status_code == 403


def _signed_cookie(console, headers: dict[str, str]) -> tuple[str, str]:
    """Sign in (the sign-in cookie sent by hand: a Secure one is not sent back over plain
    HTTP); where it leads and the session cookie set."""
    with console.client() as client:
        csrf = csrf_of(client.get("/console/sign-in", headers=headers).text)
        answer = client.post(
            "/console/sign-in",
            data={"csrf": csrf, "token": TOKEN, "next": "//evil.example/"},
            headers={**headers, "Cookie": f"syndicator_console_sign_in={csrf}"},
        )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"], answer.headers["set-cookie"].split(", syndicator_")[0]


def test_the_session_cookie_and_signing_out(console):
    # Behind a proxy on 127.0.0.1 that speaks HTTPS, the cookie is Secure; over HTTP it is not.
    location, cookie = _signed_cookie(console, {"X-Forwarded-Proto": "https"})
    assert location == "/console/"
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Max-Age=28800", "Path=/console"):
        assert flag in cookie, cookie
    _, plain = _signed_cookie(console, {})
    assert "HttpOnly" in plain and "Secure" not in plain
    with console.session() as (client, csrf):
        assert client.get("/console/").status_code == 200
        stolen = client.cookies["syndicator_console"]
        assert client.post("/console/sign-out", data={"csrf": csrf}).status_code == 303
    with console.client() as other:
        other.cookies.set("syndicator_console", stolen, path="/console")
        assert other.get("/console/").status_code == 303


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_a_form_without_its_csrf_token_changes_nothing(console, token):
    subscription_id = console.site.subscribe("http://127.0.0.1:9/hook")
    before = _state(console)
    with console.session() as (client, _):
        for method, path in _routes():
            if method != "POST" or path == "/sign-out":
                continue
            data = {
                "url": "http://127.0.0.1:9/other",
                "since": "2000-01-01T00:00",
                "until": "2100-01-01T00:00",
            }
            if token is not None:
                data["csrf"] = token
            answer = client.post(_concrete(path, subscription_id), data=data)
            assert answer.status_code == 403, path
        assert client.post("/console/sign-out", data={"csrf": "wrong"}).status_code == 403
        assert client.get("/console/").status_code == 200
    assert _state(console) == before


def test_the_secret_is_shown_once(console):
    with console.session() as (client, csrf):
        created = client.post(
            "/console/subscriptions",
            data={"csrf": csrf, "url": "http://127.0.0.1:9/hook", "event_types": "item.published"},
        )
        assert created.status_code == 201
        secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.text).group(0)
        [row] = console.site.sql("SELECT id, secret FROM subscriptions")
        assert row.secret == secret
        for path in ("/console/subscriptions", f"/console/subscriptions/{row.id}", "/console/"):
            assert secret not in client.get(path).text, path
        rotated = client.post(f"/console/subscriptions/{row.id}/rotate", data={"csrf": csrf})
        new = re.search(r"whsec_[A-Za-z0-9+/=]+", rotated.text).group(0)
        assert new != secret
        assert console.site.sql("SELECT secret FROM subscriptions")[0].secret == new
        assert new not in client.get(f"/console/subscriptions/{row.id}").text


def test_html_in_an_address_or_a_reply_is_shown_as_text(console, contexts, endpoint):
    reply = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    receiver = endpoint(lambda _hit, _n: (500, {"Content-Type": "text/html"}, reply.encode()))
    hostile = receiver.url("/hook?<script>window.__pwned=3</script>")
    _, page = contexts(console)
    console.sign_in(page)
    page.goto("/console/subscriptions/new")
    page.get_by_label("URL").fill(hostile)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name=re.compile(r"^sub_")).click()
    expect(page.locator(".facts-list code.url")).to_have_text(hostile)
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status")).to_contain_text("Test event queued")
    wait_until(lambda: receiver.posts(), what="the test event sent")

    def attempted() -> bool:
        page.reload()
        return page.locator("pre.reply").count() > 0

    wait_until(attempted, what="the attempt logged")
    expect(page.locator("pre.reply").first).to_have_text(reply)
    assert receiver.json_posts()[0]["type"] == "webhook.test"
    for path in ("/console/subscriptions", "/console/deliveries", "/console/"):
        page.goto(path)
        expect(page.get_by_text(hostile).first).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script, img").count() == 0
