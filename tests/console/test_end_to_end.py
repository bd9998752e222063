"""The issue's walk through the console, in Chromium, against ``syndicator run``: subscribe a
receiver to one tag, see its delivery, see it fail, replay it once the receiver recovers."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import SCREENSHOTS, wait_until

FAILING = b"<b>down</b><script>window.__pwned = 1</script>"


def test_subscribe_deliver_fail_and_replay_from_the_console(console, contexts, endpoint):
    answer = {"status": 200}
    receiver = endpoint(
        lambda _hit, _n: (answer["status"], {}, FAILING if answer["status"] >= 500 else b"ok")
    )
    _, page = contexts(console)
    console.sign_in(page)

    page.get_by_role("link", name="Subscriptions", exact=True).click()
    page.get_by_role("link", name="New subscription").click()
    page.get_by_label("URL").fill(receiver.url())
    page.get_by_label("Tags").select_option(label="Open Data")
    page.get_by_role("button", name="Create").click()
    secret = page.locator("[data-secret]").inner_text()
    assert secret.startswith("whsec_")
    page.get_by_role("link", name=re.compile(r"^sub_")).click()
    subscription_url = page.url

    console.site.write("tagged.md", "Tagged", tags="[Open Data]")
    console.site.write("untagged.md", "Untagged", tags="[Elsewhere]")
    wait_until(lambda: receiver.posts(), what="the tagged document delivered")
    shows(page, "tbody tr", "delivered")
    [first] = receiver.json_posts()
    assert first["data"]["title"] == "Tagged"

    answer["status"] = 500
    console.site.write("failing.md", "Failing", tags="[Open Data]")
    # One attempt and the three retries of the schedule, then the delivery has failed.
    wait_until(lambda: len(receiver.posts()) == 5, what="every attempt made")
    page.goto(subscription_url + "?status=failed")
    shows(page, "tbody tr", "HTTP 500")
    expect(page.locator("tbody tr")).to_have_count(1)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "subscription-failed.png", full_page=True)
    page.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page.locator("table.attempts tbody tr")).to_have_count(4)
    expect(page.locator("pre.reply").first).to_have_text(FAILING.decode())
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=SCREENSHOTS / "delivery.png", full_page=True)
    page.get_by_role("link", name="Overview").click()
    page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
    page.go_back()
    failed_ids = {h.headers["webhook-id"] for h in receiver.posts()[1:]}
    assert len(failed_ids) == 1

    answer["status"] = 200
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_contain_text("same webhook-id")
    wait_until(lambda: len(receiver.posts()) == 6, what="the replay delivered")
    assert receiver.posts()[-1].headers["webhook-id"] in failed_ids
    assert receiver.json_posts()[-1]["data"]["title"] == "Failing"
    shows(page, ".facts-list .badge", "delivered")
    expect(page.locator("table.attempts tbody tr")).to_have_count(5)
    assert [p["data"]["title"] for p in receiver.json_posts()] == ["Tagged", *["Failing"] * 5]


def shows(page, selector: str, text: str) -> None:
    """Reload until the first ``selector`` holds ``text`` (the deliverer settles a moment after
    the receiver answered)."""

    def reloaded() -> bool:
        page.reload()
        found = page.locator(selector)
        return found.count() > 0 and text in found.first.inner_text()

    wait_until(reloaded, what=f"{selector} shows {text}")
