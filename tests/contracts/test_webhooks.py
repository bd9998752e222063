"""Webhook contracts (README "Webhooks"), end to end: a ``syndicator run`` process, endpoints
on 127.0.0.1, subscriptions made with the command line, state read back from the CLI and
the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from .conftest import Site, status, wait_until


def _first_then_ok(code: int, headers: dict[str, str]):
    def answer(_hit, n: int):
        return (code, headers, b"") if n == 1 else (200, {}, b"")

    return answer


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(site: Site, endpoint, code: int):
    # The schedule says 0.2 s; the endpoint asks for 2 s, and is obeyed.
    hook = endpoint(_first_then_ok(code, {"Retry-After": "2"}))
    site.subscribe(hook.url())
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: len(hook.posts()) == 2, what="the retry")
    first, second = hook.posts()
    assert second.at - first.at >= 2.0
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    wait_until(site.settled)
    [delivery] = site.deliveries()
    assert [a["status"] for a in delivery["log"]] == [code, 200]


def test_five_days_of_failures_disable_and_are_reported(site: Site, endpoint):
    hook = endpoint(status(500))
    sub = site.subscribe(hook.url())
    # Its first failure was five days ago (and no success since): this failure ends it.
    site.sql(
        "UPDATE subscriptions SET failing_since = :t WHERE id = :id",
        t=(datetime.now(UTC) - timedelta(days=5, minutes=1)).replace(tzinfo=None),
        id=sub,
    )
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: "disabled" in site.cli("subscriptions", "list").stdout)
    [listed] = json.loads(site.cli("subscriptions", "list", "--json").stdout)
    assert listed["enabled"] is False
    assert "(5 days)" in listed["disabled_reason"]
    assert len(hook.posts()) == 1  # not retried once disabled
    wait_until(lambda: f"subscription {sub} disabled: every attempt failed since" in site.log())


def test_a_success_resets_the_failure_streak(site: Site, endpoint):
    answers = {"code": 200}
    hook = endpoint(lambda _hit, _n: (answers["code"], {}, b""))
    sub = site.subscribe(hook.url())
    almost = (datetime.now(UTC) - timedelta(days=4, hours=23)).replace(tzinfo=None)
    site.sql("UPDATE subscriptions SET failing_since = :t WHERE id = :id", t=almost, id=sub)
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: len(hook.posts()) == 1)
    wait_until(site.settled)
    assert site.sql("SELECT failing_since FROM subscriptions")[0].failing_since is None
    # Failing again now starts a new streak: still enabled well past the old five days.
    answers["code"] = 500
    site.write("b.md", "B")
    wait_until(lambda: site.settled(2), what="b failed")
    [listed] = json.loads(site.cli("subscriptions", "list", "--json").stdout)
    assert listed["enabled"] is True
    assert len(hook.posts()) == 1 + 4, [(d["status"], d["log"]) for d in site.deliveries()]


def test_unpublished_is_delivered_to_who_asked(site: Site, endpoint):
    asked, default = endpoint(), endpoint()
    secret = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
    site.subscribe(asked.url(), "--event", "item.unpublished", "--secret", secret)
    site.subscribe(default.url())
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: len(default.posts()) == 1)
    (site.posts / "a.md").unlink()
    site.write("marker.md", "Marker")  # after the removal: once it arrives, a was scanned
    wait_until(lambda: len(default.posts()) == 2 and len(asked.posts()) == 1)
    wait_until(site.settled)
    [unpublished] = asked.posts()
    body = Webhook(secret).verify(unpublished.body, unpublished.headers)
    assert body["type"] == "item.unpublished"
    assert body["data"]["id"] == default.json_posts()[0]["data"]["id"]  # a's id
    assert [b["type"] for b in default.json_posts()] == ["item.published"] * 2


def test_categories_and_tags_together_match_either(site: Site, endpoint):
    hook = endpoint()
    site.subscribe(hook.url(), "--category", "News", "--tag", "Paris")
    site.run()
    site.write("news.md", "In News", categories="[News]")
    site.write("paris.md", "Tagged Paris", tags="[Paris]")
    site.write("both.md", "Both", categories="[News]", tags="[Paris]")
    site.write("neither.md", "Neither", categories="[Sport]", tags="[Lyon]")
    wait_until(lambda: len(site.sql("SELECT id FROM events")) == 4, what="4 events")
    wait_until(site.settled)
    titles = sorted(b["data"]["title"] for b in hook.json_posts())
    assert titles == ["Both", "In News", "Tagged Paris"]


def test_patching_a_subscription_to_a_private_url_is_refused(site: Site):
    site.configure(worker={"role": "web"}, push={"allow_private_targets": False})
    public = "https://93.184.216.34/hook"
    sub = site.subscribe(public)
    site.run()
    api = f"{site.served_at()}/api/subscriptions/{sub}"
    auth = {"Authorization": "Bearer contract-token-0123456789"}
    for private in ("http://127.0.0.1:9/hook", "http://10.0.0.1/hook", "http://localhost/x"):
        refused = httpx.patch(api, json={"url": private}, headers=auth, timeout=120)
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(api, headers=auth, timeout=120).json()["url"] == public
    assert (
        httpx.patch(
            api, json={"url": "https://93.184.216.35/h"}, headers=auth, timeout=120
        ).status_code
        == 200
    )


def test_cli_add_options_list_and_remove(site: Site, endpoint):
    secret = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=="
    hook = endpoint()
    sub = site.subscribe(
        hook.url(), "--secret", secret, "--event", "item.updated", "--category", "Open Data"
    )
    [listed] = json.loads(site.cli("subscriptions", "list", "--json").stdout)
    assert (listed["id"], listed["event_types"], listed["categories"], listed["tags"]) == (
        sub,
        ["item.updated"],
        ["open-data"],
        [],
    )
    site.run()
    site.write("a.md", "A", categories="[Open Data]")
    site.write("b.md", "B", categories="[Other]")
    wait_until(lambda: len(site.sql("SELECT id FROM events")) == 2)
    site.write("a.md", "A again", categories="[Open Data]")
    site.write("b.md", "B again", categories="[Other]")
    wait_until(lambda: len(site.sql("SELECT id FROM events")) == 4)
    wait_until(site.settled)
    [update] = hook.posts()  # the given secret signs it
    assert Webhook(secret).verify(update.body, update.headers)["data"]["title"] == "A again"
    unknown = site.cli("subscriptions", "remove", "sub_unknown")
    assert unknown.code == 2 and "no subscription sub_unknown" in unknown.stderr
    assert site.cli("subscriptions", "remove", sub).code == 0
    assert json.loads(site.cli("subscriptions", "list", "--json").stdout) == []


def test_deliveries_list_and_replay_on_the_cli(site: Site, endpoint):
    hook = endpoint(status(500))
    site.subscribe(hook.url())
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: site.cli("deliveries", "list", "--status", "failed").stdout)
    [failed] = json.loads(site.cli("deliveries", "list", "--status", "failed", "--json").stdout)
    assert failed["kind"] == "webhook" and failed["topic"] is None
    assert failed["event_type"] == "item.published"
    assert [a["status"] for a in failed["log"]] == [500] * 4
    hook.answer = status(200)
    replayed = site.cli("deliveries", "replay", str(failed["id"]))
    assert replayed.code == 0, replayed.stderr
    wait_until(lambda: site.deliveries()[0]["status"] == "delivered")
    assert len({h.headers["webhook-id"] for h in hook.posts()}) == 1
    # Refused, exit 2: an unknown delivery, and one whose subscription is disabled.
    missing = site.cli("deliveries", "replay", "999999")
    assert missing.code == 2 and "no delivery 999999" in missing.stderr
    site.sql("UPDATE subscriptions SET enabled = false, disabled_reason = 'by hand'")
    disabled = site.cli("deliveries", "replay", str(failed["id"]))
    assert disabled.code == 2 and "disabled (by hand)" in disabled.stderr
