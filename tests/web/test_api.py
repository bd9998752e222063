"""The REST API over real HTTP (SQLite and PostgreSQL): token, round trips, replay, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from standardwebhooks.webhooks import Webhook

from .harness import BASE_URL, TOKEN, Site, sites, wait_for

PROBLEM = "application/problem+json"


@pytest.fixture
def site(tmp_path, store_url) -> Iterator[Callable[..., Site]]:
    with sites(tmp_path, store_url) as make:
        yield make


def is_problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["none", "wrong", "not-bearer", "longer"],
)
def test_401_without_the_token(site, headers):
    s = site()
    for method, path in [
        ("GET", "/api/subscriptions"),
        ("POST", "/api/subscriptions"),
        ("DELETE", "/api/subscriptions/sub_x"),
        ("GET", "/api/deliveries?status=nonsense"),
        ("POST", "/api/deliveries/1/replay"),
        ("GET", "/api/items"),
        ("GET", "/api/feeds"),
    ]:
        answer = s.http.request(method, s.url(path), headers=headers)
        is_problem(answer, 401)
        assert answer.headers["www-authenticate"] == "Bearer"


def test_no_token_configured_means_the_api_is_off(site):
    s = site(server={"api_token": ""})
    for headers in ({}, {"Authorization": "Bearer anything"}):
        answer = s.http.get(s.url("/api/subscriptions"), headers=headers)
        assert "api_token" in is_problem(answer, 403)["detail"]
    assert s.http.get(s.url("/healthz")).status_code == 200


def test_subscription_create_read_update_delete(site):
    s = site()
    created = s.api(
        "POST",
        "/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "tags": ["Open Data"], "description": "d"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["tags"] == ["open-data"] and body["event_types"] == ["item.published"]
    assert created.headers["location"] == f"/api/subscriptions/{body['id']}"
    path = f"/subscriptions/{body['id']}"

    listed = s.api("GET", "/subscriptions").json()
    assert [x["id"] for x in listed] == [body["id"]]
    assert "secret" not in listed[0]
    read = s.api("GET", path).json()
    assert "secret" not in read and read["url"] == "http://127.0.0.1:9/hook"

    patched = s.api(
        "PATCH",
        path,
        json={"categories": ["Presse"], "event_types": ["item.updated"], "enabled": False},
    )
    assert patched.status_code == 200, patched.text
    changed = patched.json()
    assert changed["categories"] == ["presse"] and changed["tags"] == ["open-data"]
    assert changed["event_types"] == ["item.updated"] and changed["description"] == "d"
    assert not changed["enabled"] and changed["disabled_reason"]
    enabled = s.api("PATCH", path, json={"enabled": True}).json()
    assert enabled["enabled"] and enabled["disabled_reason"] is None
    assert enabled["created_at"] == body["created_at"]

    assert s.api("DELETE", path).status_code == 204
    is_problem(s.api("GET", path), 404)
    is_problem(s.api("DELETE", path), 404)
    assert s.api("GET", "/subscriptions").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://127.0.0.1/hook"},
        {"url": "http://127.0.0.1/hook", "event_types": ["item.deleted"]},
        {"url": "http://127.0.0.1/hook", "secret": "not-a-whsec"},
        {"url": "http://127.0.0.1/hook", "colour": "blue"},
        {"url": "http://127.0.0.1/\x00"},
        {},
    ],
    ids=["scheme", "event", "secret", "unknown-field", "nul", "empty"],
)
def test_invalid_subscriptions_are_422_problems(site, body):
    s = site()
    is_problem(s.api("POST", "/subscriptions", json=body), 422)
    assert s.api("GET", "/subscriptions").json() == []


def test_a_private_target_is_refused_unless_allowed(site):
    s = site(push={"allow_private_targets": False})
    answer = s.api("POST", "/subscriptions", json={"url": "http://127.0.0.1:9/hook"})
    assert "loopback" in is_problem(answer, 422)["detail"]


def test_replay_of_a_failed_delivery(site):
    s = site(push={"retry_schedule": [0.1]})
    receiver = s.subscriber()
    healthy = False
    receiver.post_status = lambda _: 200 if healthy else 500
    created = s.api("POST", "/subscriptions", json={"url": receiver.callback("/hook")}).json()
    s.write("second.md", "Second")
    s.scan()
    wait_for(lambda: s.api("GET", "/deliveries?status=failed").json())
    [failed] = s.api("GET", "/deliveries?status=failed").json()
    assert failed["kind"] == "webhook" and failed["attempts"] == 2
    assert [a["status"] for a in failed["log"]] == [500, 500]
    assert s.api("GET", "/deliveries?status=delivered").json() == []

    healthy = True
    replayed = s.api("POST", f"/deliveries/{failed['id']}/replay")
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] in ("pending", "delivering", "delivered")
    wait_for(lambda: s.api("GET", f"/deliveries/{failed['id']}").json()["status"] == "delivered")
    assert len(receiver.posts) == 3
    assert len({p.headers["webhook-id"] for p in receiver.posts}) == 1
    Webhook(created["secret"]).verify(receiver.posts[-1].body, receiver.posts[-1].headers)

    is_problem(s.api("POST", "/deliveries/99999/replay"), 404)
    s.api("PATCH", f"/subscriptions/{created['id']}", json={"enabled": False})
    assert (
        "disabled" in is_problem(s.api("POST", f"/deliveries/{failed['id']}/replay"), 409)["detail"]
    )


def test_deliveries_list_filters_and_validates(site):
    s = site()
    assert s.api("GET", "/deliveries").json() == []
    is_problem(s.api("GET", "/deliveries?status=lost"), 422)
    is_problem(s.api("GET", "/deliveries?limit=0"), 422)
    is_problem(s.api("GET", "/deliveries/0"), 422)
    is_problem(s.api("GET", f"/deliveries/{2**31}"), 422)
    is_problem(s.api("GET", "/deliveries/12"), 404)


def test_items_and_feeds(site):
    s = site()
    s.write("second.md", "Second", categories="[Presse]", tags="[Open Data]")
    s.scan()
    items = s.api("GET", "/items").json()
    assert sorted(i["data"]["title"] for i in items) == ["First", "Second"]
    assert {i["state"] for i in items} == {"published"}
    assert s.api("GET", "/items?state=draft").json() == []
    assert len(s.api("GET", "/items?limit=1").json()) == 1
    assert len(s.api("GET", "/items?limit=1&offset=1").json()) == 1

    feeds = {f["path"]: f for f in s.api("GET", "/feeds").json()}
    assert set(feeds) == {
        f"{folder}{name}"
        for folder in ("", "categories/presse/", "tags/open-data/")
        for name in ("rss.xml", "atom.xml", "feed.json")
    }
    tag = feeds["tags/open-data/atom.xml"]
    assert tag["kind"] == "tag" and tag["slug"] == "open-data" and tag["format"] == "atom"
    assert tag["url"] == f"{BASE_URL}/tags/open-data/atom.xml"
    served = s.http.get(s.url("/tags/open-data/atom.xml"))
    assert tag["content_type"] == served.headers["content-type"]
    assert feeds["rss.xml"]["kind"] == "site" and feeds["rss.xml"]["websub_subscribers"] == 0


def test_unknown_api_paths_and_methods_are_problems(site):
    s = site()
    is_problem(s.api("GET", "/nothing/here"), 404)
    is_problem(s.api("PUT", "/subscriptions"), 405)
    # Everything else is still the output folder.
    feed = s.http.get(s.url("/rss.xml"))
    assert feed.status_code == 200 and feed.headers["etag"]
    assert (
        s.http.get(s.url("/rss.xml"), headers={"If-None-Match": feed.headers["etag"]}).status_code
        == 304
    )


def test_openapi_describes_the_api(site):
    s = site()
    document = s.http.get(s.url("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/hub",
        "/api/subscriptions",
        "/api/subscriptions/{subscription_id}",
        "/api/deliveries",
        "/api/deliveries/{delivery_id}/replay",
        "/api/items",
        "/api/feeds",
        "/api/websub/subscriptions",
        "/healthz",
        "/metrics",
    ):
        assert path in paths
    assert set(paths["/api/subscriptions/{subscription_id}"]) == {"get", "patch", "delete"}
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()


def test_lists_are_pages_linked_to_the_next(site):
    s = site()
    made = [
        s.api("POST", "/subscriptions", json={"url": f"http://127.0.0.1:{9000 + n}/"}).json()
        for n in range(3)
    ]
    first = s.api("GET", "/subscriptions?limit=2")
    assert [x["id"] for x in first.json()] == [made[2]["id"], made[1]["id"]]
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and f"before={made[1]['id']}" in link
    following = s.api("GET", f"/subscriptions?limit=2&before={made[1]['id']}")
    assert [x["id"] for x in following.json()] == [made[0]["id"]]
    assert "Link" not in following.headers
    is_problem(s.api("GET", "/subscriptions?before=sub_gone"), 400)
    is_problem(s.api("GET", "/deliveries?before=0"), 422)
