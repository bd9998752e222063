"""The corpus built once with its pages, served on 127.0.0.1, and a real Chromium to read them.

The browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it); nothing is ever
downloaded. Pages may ask for the articles' images on the real site: the browser is kept to
127.0.0.1, and every request it tried elsewhere is recorded for the tests to judge.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from feeds import reference
from feeds.conftest import BUILDS, CORPUS
from feeds.helpers import BASE_URL, NOW
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
API_TOKEN = "pages-test-token"


@dataclass(frozen=True)
class BuiltSite:
    out: Path
    expected: reference.Site

    def feeds(self) -> dict[str, list[reference.Expected]]:
        return self.expected.feeds()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, run_cli: Callable[..., Any]) -> BuiltSite:
    """The three corpus folders, built with the API on (its token set) and the hub on."""
    folders = [(CORPUS / name).resolve() for name in BUILDS["all"]]
    work = tmp_path_factory.mktemp("pages")
    out = work / "OUT"
    args: list[str | Path] = ["build", "--base-url", BASE_URL, "--output", out, "--now", NOW]
    for folder in folders:
        args += ["--content", folder]
    result = run_cli(*args, cwd=work, env={"SYNDICATOR_SERVER_API_TOKEN": API_TOKEN})
    assert result.code == 1, result.stderr  # the corpus has broken documents; all else builds
    expected = reference.read_site(folders, BASE_URL, datetime.fromisoformat(NOW))
    return BuiltSite(out, expected)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="package")
def server(site: BuiltSite) -> Iterator[str]:
    """The output folder over HTTP, as a static host would serve it; stopped once the page
    tests are done, so that no later test of the session finds its thread running."""
    handler = functools.partial(_Quiet, directory=str(site.out))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Tab:
    """A browser tab on the served site, and what it tried to fetch elsewhere."""

    page: Page
    context: BrowserContext
    outside: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def open_tab(browser: Browser, server: str) -> Iterator[Callable[..., Tab]]:
    """New tabs (``open_tab(**context_options)``) kept to 127.0.0.1; closed after the test."""
    opened: list[BrowserContext] = []

    def open_one(**options: Any) -> Tab:
        context = browser.new_context(base_url=server, **options)
        opened.append(context)
        tab = Tab(context.new_page(), context)

        def keep_local(route: Route, request: Request) -> None:
            if request.url.startswith(server + "/"):
                route.continue_()
            else:
                tab.outside.append((request.resource_type, request.url))
                route.abort()

        context.route("**/*", keep_local)
        return tab

    yield open_one
    for context in opened:
        context.close()
