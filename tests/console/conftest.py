"""The console of a real ``syndicator run`` process, its receivers on 127.0.0.1, and Chromium.

The site, its receivers and its worker are the contract tests' (``tests/contracts``); the
browser is the feed pages' (``tests/pages``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from contracts.conftest import TOKEN, Site, any_site, endpoint, site, wait_until
from pages.conftest import browser
from playwright.sync_api import Browser, BrowserContext, Page

__all__ = ["TOKEN", "Site", "any_site", "browser", "endpoint", "site", "wait_until"]

SCREENSHOTS = Path(__file__).parent / "screenshots"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    site: Site
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=120,
            follow_redirects=False,
            headers={"Accept-Language": "en"},
        )

    def signed_in(self, token: str = TOKEN) -> tuple[httpx.Client, str]:
        """A client with a session, and its CSRF token."""
        client = self.client()
        form = client.get("/console/sign-in")
        answer = client.post(
            "/console/sign-in",
            data={"csrf": csrf_of(form.text), "token": token, "next": "/console/"},
        )
        assert answer.status_code == 303, answer.text
        return client, csrf_of(client.get("/console/").text)

    @contextmanager
    def session(self) -> Iterator[tuple[httpx.Client, str]]:
        client, csrf = self.signed_in()
        try:
            yield client, csrf
        finally:
            client.close()

    def tab(self, browser: Browser) -> tuple[BrowserContext, Page]:
        context = browser.new_context(base_url=self.url, viewport={"width": 1280, "height": 900})
        return context, context.new_page()

    def sign_in(self, page: Page) -> None:
        page.goto("/console/")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/")


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def _started(site: Site) -> Console:
    site.write("base.md", "Base", tags="[Open Data]")
    site.write("other.md", "Other", tags="[Elsewhere]")
    site.run()
    return Console(site, site.served_at())


@pytest.fixture
def console(site: Site) -> Console:
    """A worker (role all) on a site with two tagged documents, its console signed out."""
    return _started(site)


@pytest.fixture
def any_console(any_site: Site) -> Console:
    """The same, on SQLite and on PostgreSQL."""
    return _started(any_site)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[[Console], tuple[BrowserContext, Page]]]:
    opened: list[BrowserContext] = []

    def open_one(console: Console) -> tuple[BrowserContext, Page]:
        context, page = console.tab(browser)
        opened.append(context)
        return context, page

    yield open_one
    for context in opened:
        context.close()


__all__ += ["SCREENSHOTS", "Console", "console", "contexts", "csrf_of"]
