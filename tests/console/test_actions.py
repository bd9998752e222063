"""Each console form changes what the API would: edit, disable and enable, delete after a
confirmation, and replay the failed deliveries of a period only."""

from __future__ import annotations

import json

from .conftest import wait_until


def _subscription(console, subscription_id: str):
    [row] = console.site.sql("SELECT * FROM subscriptions WHERE id = :id", id=subscription_id)
    return row


def test_edit_disable_enable_and_delete(any_console):
    console = any_console
    subscription_id = console.site.subscribe("http://127.0.0.1:9/hook")
    page = f"/console/subscriptions/{subscription_id}"
    with console.session() as (client, csrf):
        edited = client.post(
            f"{page}/edit",
            data={
                "csrf": csrf,
                "url": "http://127.0.0.1:9/other",
                "description": "Partner",
                "tags": ["open-data", "Elsewhere"],
                "event_types": ["item.published", "item.updated"],
            },
        )
        assert edited.headers["location"] == f"{page}?done=saved"
        row = _subscription(console, subscription_id)
        assert (row.url, row.description) == ("http://127.0.0.1:9/other", "Partner")
        assert json.loads(row.tags) == ["open-data", "elsewhere"]
        assert json.loads(row.event_types) == ["item.published", "item.updated"]
        assert "Saved." in client.get(edited.headers["location"]).text
        refused = client.post(f"{page}/edit", data={"csrf": csrf, "url": "ftp://x"})
        assert refused.status_code == 422
        assert _subscription(console, subscription_id).url == "http://127.0.0.1:9/other"

        client.post(f"{page}/disable", data={"csrf": csrf})
        row = _subscription(console, subscription_id)
        assert not row.enabled and row.disabled_reason == "disabled in the console"
        client.post(f"{page}/enable", data={"csrf": csrf})
        assert _subscription(console, subscription_id).enabled

        confirm = client.get(f"{page}/delete")
        assert "cannot be undone" in confirm.text
        assert console.site.sql("SELECT id FROM subscriptions")
        deleted = client.post(f"{page}/delete", data={"csrf": csrf})
        assert deleted.headers["location"] == "/console/subscriptions?done=deleted"
        assert not console.site.sql("SELECT id FROM subscriptions")
        assert client.get(page).status_code == 404


def test_replay_failed_takes_the_period_asked_for(any_console, closed_port):
    console = any_console
    subscription_id = console.site.subscribe(f"http://127.0.0.1:{closed_port}/hook")
    for n in range(3):
        console.site.write(f"down{n}.md", f"Down {n}")
    wait_until(lambda: console.site.settled(3), what="every delivery failed")
    console.site.sql(
        "UPDATE deliveries SET created_at = '2020-01-01 00:00:00' WHERE id = "
        "(SELECT min(id) FROM deliveries)"
    )
    with console.session() as (client, csrf):
        answer = client.post(
            f"/console/subscriptions/{subscription_id}/replay-failed",
            data={"csrf": csrf, "since": "2021-01-01T00:00:00", "until": "2100-01-01T00:00:00"},
        )
        assert "Deliveries queued again: 2" in answer.text
    wait_until(lambda: console.site.settled(3), what="the replayed deliveries failed again")
    attempts = console.site.sql(
        "SELECT delivery_id, count(*) AS n FROM delivery_attempts GROUP BY delivery_id"
        " ORDER BY delivery_id"
    )
    # Four attempts each spent the schedule; a replay is one more attempt (as through the API),
    # made for the two deliveries of the period only.
    assert [row.n for row in attempts] == [4, 5, 5]
