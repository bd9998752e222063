"""Every console page through axe-core in Chromium, light and dark, with rows to show (a
subscription with a failed delivery, its attempts), and the console in French."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .conftest import TOKEN, wait_until


@pytest.fixture
def filled(console, endpoint):
    """A subscription whose one delivery failed, its id and the delivery's."""
    receiver = endpoint(lambda _hit, _n: (500, {}, b"<p>maintenance</p>"))
    subscription_id = console.site.subscribe(receiver.url())
    console.site.write("news.md", "News", tags="[Open Data]")
    wait_until(lambda: len(receiver.posts()) == 4, what="every attempt made")
    wait_until(
        lambda: console.site.sql("SELECT status FROM deliveries")[0].status == "failed",
        what="the delivery failed",
    )
    [delivery] = console.site.sql("SELECT id FROM deliveries")
    return console, subscription_id, delivery.id


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_any_console_page(filled, browser, scheme):
    console, subscription_id, delivery_id = filled
    context = browser.new_context(base_url=console.url, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto("/console/")
        _check(page, "sign-in")
        page.get_by_label("API token").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        _check(page, "sign-in refused")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/")
        for path in (
            "/console/",
            "/console/subscriptions",
            "/console/subscriptions?state=disabled",
            "/console/subscriptions/new",
            f"/console/subscriptions/{subscription_id}",
            f"/console/subscriptions/{subscription_id}?status=failed",
            f"/console/subscriptions/{subscription_id}/delete",
            "/console/deliveries",
            f"/console/deliveries/{delivery_id}",
            "/console/websub",
            "/console/feeds",
            "/console/feeds?kind=tag",
            "/console/items",
            "/console/items/_posts/news.md",
            "/console/deliveries/999999",
        ):
            page.goto(path)
            _check(page, path)
        page.goto(f"/console/subscriptions/{subscription_id}")
        page.get_by_role("button", name="Rotate the secret").click()
        _check(page, "new secret")
        page.goto(f"/console/subscriptions/{subscription_id}")
        page.get_by_label("From (UTC)").fill("2000-01-01T00:00:00")
        page.get_by_label("To (UTC)").fill("2100-01-01T00:00:00")
        page.get_by_role("button", name="Replay", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Deliveries queued again: 1")
        _check(page, "replayed")
    finally:
        context.close()


def _check(page, what: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"


def test_the_console_speaks_french(filled, browser):
    console, _, delivery_id = filled
    context = browser.new_context(base_url=console.url, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto("/console/")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        page.get_by_label("Jeton d’API").fill(TOKEN)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vue d’ensemble")
        page.goto(f"/console/deliveries/{delivery_id}")
        expect(page.locator(".facts-list .badge")).to_have_text("en échec")
        expect(page.get_by_role("heading", level=2)).to_contain_text(re.compile(r"4 tentatives"))
    finally:
        context.close()
