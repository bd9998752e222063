"""The WebSub hub against real subscribers on 127.0.0.1 (SQLite and PostgreSQL).

Tests 100–104 follow the hub cases of websub.rocks: a typical subscription, one with a secret,
one with extra parameters, a re-subscription before expiry, an unsubscription. Distribution
goes through the running deliverer, as ``syndicator run`` does it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from syndicator.announce.announcer import Announcer, announcing_pipeline
from syndicator.config import with_overrides

from .harness import BASE_URL, HUB_URL, Site, sites, wait_for
from .subscriber import Subscriber


@pytest.fixture
def site(tmp_path, store_url) -> Iterator[Callable[..., Site]]:
    with sites(tmp_path, store_url) as make:
        yield make


def subscribe(site: Site, subscriber: Subscriber, path: str = "rss.xml", **extra: str) -> dict:
    """Subscribe and wait for the hub to verify; the subscription as the store holds it."""
    callback = extra.pop("hub_callback", subscriber.callback())
    answer = site.hub(
        hub_mode="subscribe", hub_topic=site.topic(path), hub_callback=callback, **extra
    )
    assert answer.status_code == 202, answer.text
    wait_for(lambda: [s for s in site.subscriptions() if s["callback"] == callback])
    return next(s for s in site.subscriptions() if s["callback"] == callback)


def links(header: str) -> dict[str, str]:
    """``<url>; rel="x", …`` → {rel: url}."""
    found = {}
    for part in header.split(","):
        url, _, params = part.strip().partition(";")
        found[params.split("=", 1)[1].strip().strip('"')] = url.strip().strip("<>")
    return found


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_100_typical_subscription_then_distribution_of_the_changed_feed(site):
    s = site()
    subscriber = s.subscriber()
    subscription = subscribe(s, subscriber)

    [verification] = subscriber.verifications
    assert verification.path == "/callback"
    assert verification.query["hub.mode"] == "subscribe"
    assert verification.query["hub.topic"] == f"{BASE_URL}/rss.xml"
    assert len(verification.query["hub.challenge"]) >= 32
    assert verification.query["hub.lease_seconds"] == str(s.config.websub.max_lease_seconds)
    assert subscription["lease_seconds"] == s.config.websub.max_lease_seconds
    assert subscriber.posts == []

    s.write("second.md", "Second")
    assert s.scan() == 1
    subscriber.wait(lambda: subscriber.posts)
    [post] = subscriber.posts
    served = s.http.get(s.url("/rss.xml"), headers={"Accept-Encoding": "identity"})
    assert post.body == served.content == (s.output / "rss.xml").read_bytes()
    assert b"Second" in post.body
    assert post.headers["Content-Type"] == served.headers["content-type"]
    assert links(post.headers["Link"]) == {"hub": HUB_URL, "self": f"{BASE_URL}/rss.xml"}
    assert links(served.headers["link"]) == links(post.headers["Link"])
    assert "X-Hub-Signature" not in post.headers

    assert s.scan() == 0  # nothing changed: nothing sent
    s.settled()
    assert len(subscriber.posts) == 1


def test_101_a_secret_signs_each_distribution_with_sha256(site):
    s = site()
    subscriber = s.subscriber()
    subscribe(s, subscriber, "atom.xml", hub_secret="a subscriber's secret")
    s.write("second.md", "Second")
    s.scan()
    subscriber.wait(lambda: subscriber.posts)
    [post] = subscriber.posts
    assert post.headers["X-Hub-Signature"] == signature("a subscriber's secret", post.body)
    assert post.headers["X-Hub-Signature"] != signature("another secret", post.body)
    assert post.headers["Content-Type"] == "application/atom+xml; charset=utf-8"


def test_102_unknown_parameters_are_ignored_and_the_callback_query_kept(site):
    s = site()
    subscriber = s.subscriber()
    callback = subscriber.callback("/cb/7?token=abc&x=1")
    subscribe(s, subscriber, "feed.json", hub_callback=callback, foo="bar", hub_foo="hub.bar")
    [verification] = subscriber.verifications
    assert verification.path == "/cb/7"
    assert verification.query["token"] == "abc" and verification.query["x"] == "1"
    assert verification.query["hub.topic"] == f"{BASE_URL}/feed.json"
    s.write("second.md", "Second")
    s.scan()
    subscriber.wait(lambda: subscriber.posts)
    assert subscriber.posts[0].path == "/cb/7"
    assert subscriber.posts[0].headers["Content-Type"] == "application/feed+json; charset=utf-8"


def test_103_resubscribing_before_expiry_renews_the_same_subscription(site):
    s = site()
    subscriber = s.subscriber()
    first = subscribe(s, subscriber, hub_lease_seconds="100", hub_secret="old")
    assert first["lease_seconds"] == 100
    answer = s.hub(
        hub_mode="subscribe",
        hub_topic=s.topic(),
        hub_callback=subscriber.callback(),
        hub_lease_seconds="5000",
        hub_secret="new",
    )
    assert answer.status_code == 202
    wait_for(lambda: s.subscriptions()[0]["lease_seconds"] == 5000)
    [renewed] = s.api("GET", "/websub/subscriptions").json()
    assert renewed["id"] == first["id"] and renewed["created_at"] == first["created_at"]
    assert renewed["signed"] and "secret" not in renewed
    expires = datetime.fromisoformat(renewed["expires_at"])
    assert expires > datetime.fromisoformat(first["expires_at"])
    assert [v.query["hub.lease_seconds"] for v in subscriber.verifications] == ["100", "5000"]

    s.write("second.md", "Second")
    s.scan()
    subscriber.wait(lambda: subscriber.posts)
    s.settled()
    [post] = subscriber.posts  # one subscription, one distribution
    assert post.headers["X-Hub-Signature"] == signature("new", post.body)


def test_104_unsubscription_is_verified_then_nothing_more_is_sent(site):
    s = site()
    subscriber = s.subscriber()
    subscribe(s, subscriber)
    answer = s.hub(hub_mode="unsubscribe", hub_topic=s.topic(), hub_callback=subscriber.callback())
    assert answer.status_code == 202
    wait_for(lambda: not s.subscriptions())
    unsubscribe = subscriber.verifications[-1]
    assert unsubscribe.query["hub.mode"] == "unsubscribe"
    assert unsubscribe.query["hub.topic"] == s.topic()
    assert unsubscribe.query["hub.challenge"]
    s.write("second.md", "Second")
    assert s.scan() == 0
    s.settled()
    assert subscriber.posts == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda q: (404, q["hub.challenge"].encode()), id="404"),
        pytest.param(lambda q: (200, b"something else"), id="wrong-challenge"),
        pytest.param(lambda q: (200, b""), id="empty"),
        pytest.param(lambda q: (200, q["hub.challenge"].encode() + b"-and-more"), id="longer"),
        pytest.param(lambda q: (302, q["hub.challenge"].encode()), id="redirect"),
    ],
)
def test_an_unverified_subscription_receives_nothing(site, answer):
    s = site()
    subscriber = s.subscriber(answer)
    reply = s.hub(hub_mode="subscribe", hub_topic=s.topic(), hub_callback=subscriber.callback())
    assert reply.status_code == 202
    subscriber.wait(lambda: subscriber.verifications)
    wait_for(lambda: not _requests_left(s))
    assert s.subscriptions() == []
    s.write("second.md", "Second")
    assert s.scan() == 0
    s.settled()
    assert subscriber.posts == []


def test_an_unverified_unsubscription_leaves_the_subscription(site):
    s = site()
    subscriber = s.subscriber()
    subscribe(s, subscriber)
    subscriber.answer = lambda q: (404, b"")
    s.hub(hub_mode="unsubscribe", hub_topic=s.topic(), hub_callback=subscriber.callback())
    subscriber.wait(lambda: len(subscriber.verifications) == 2)
    wait_for(lambda: not _requests_left(s))
    assert len(s.subscriptions()) == 1


def test_an_expired_subscription_receives_nothing_and_is_removed(site):
    s = site(websub={"max_lease_seconds": 1})
    subscriber = s.subscriber()
    subscribe(s, subscriber, hub_lease_seconds="3600")
    assert subscriber.verifications[0].query["hub.lease_seconds"] == "1"  # capped
    wait_for(lambda: not s.subscriptions())  # the lease ended
    s.write("second.md", "Second")
    assert s.scan() == 0
    with s.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM websub_subscriptions").scalar() == 0
    s.settled()
    assert subscriber.posts == []


def test_only_changed_feeds_are_sent_to_their_own_subscribers(site):
    s = site()
    paris, lyon, everything = (s.subscriber() for _ in range(3))
    s.write("a.md", "A", tags="[Paris]")
    s.write("b.md", "B", tags="[Lyon]")
    s.scan()
    subscribe(s, paris, "tags/paris/rss.xml")
    subscribe(s, lyon, "tags/lyon/rss.xml")
    subscribe(s, everything, "rss.xml")
    s.write("c.md", "C", tags="[Paris]")
    assert s.scan() == 2
    paris.wait(lambda: paris.posts)
    everything.wait(lambda: everything.posts)
    s.settled()
    assert lyon.posts == []
    assert b"<title>C</title>" in paris.posts[0].body
    assert paris.posts[0].body == (s.output / "tags/paris/rss.xml").read_bytes()


def test_failed_distributions_are_retried_and_logged_like_webhooks(site):
    s = site(push={"retry_schedule": [0.2, 0.2, 0.2]})
    subscriber = s.subscriber()
    subscriber.post_status = lambda n: 500 if n <= 2 else 200
    subscribe(s, subscriber)
    s.write("second.md", "Second")
    s.scan()
    wait_for(lambda: s.deliveries() and s.deliveries()[0]["status"] == "delivered")
    [delivery] = s.deliveries()
    assert delivery["kind"] == "websub" and delivery["topic"] == s.topic()
    assert delivery["url"] == subscriber.callback()
    assert [a["status"] for a in delivery["log"]] == [500, 500, 200]
    assert len({p.body for p in subscriber.posts}) == 1


def test_a_change_while_a_distribution_waits_joins_it(site):
    s = site(deliver=False)
    subscriber = s.subscriber()
    subscribe(s, subscriber)
    s.write("second.md", "Second")
    assert s.scan() == 1
    s.write("third.md", "Third")
    assert s.scan() == 0  # one pending delivery already; it sends the feed as it is then
    s.start_delivering()
    subscriber.wait(lambda: subscriber.posts)
    s.settled()
    [post] = subscriber.posts
    assert b"Second" in post.body and b"Third" in post.body


def test_a_change_written_but_not_queued_before_a_crash_is_sent_later(site):
    s = site()
    subscriber = s.subscriber()
    subscribe(s, subscriber)
    s.write("second.md", "Second")
    # The feeds are written, then the process dies before queueing: a scanner that renders
    # exactly like the real one but never queues.
    crashing = announcing_pipeline(s.config, s.engine)
    crashing.announcer = Announcer(with_overrides(s.config, websub={"enabled": False}), s.engine)
    crashing.scan(datetime.now().astimezone())
    result = s.scanner.scan(datetime.now().astimezone())
    assert result.report.written == []  # nothing new to write...
    assert result.distributions == 1  # ...but the feed on disk is not what was last sent
    s.deliverer.wake()
    subscriber.wait(lambda: subscriber.posts)
    assert b"Second" in subscriber.posts[0].body


def test_a_410_from_the_callback_ends_the_subscription(site):
    s = site()
    subscriber = s.subscriber()
    subscriber.post_status = lambda _: 410
    subscribe(s, subscriber)
    s.write("second.md", "Second")
    s.scan()
    wait_for(lambda: not s.subscriptions())
    s.write("third.md", "Third")
    assert s.scan() == 0
    assert len(subscriber.posts) == 1


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"hub.mode": "publish"}, "hub.mode"),
        ({"hub.mode": ""}, "hub.mode"),
        ({"hub.topic": "https://elsewhere.example.org/rss.xml"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/index.html"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/feeds.opml"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/tags/nowhere/rss.xml"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/archive/1/rss.xml"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/rss.xml?page=2"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/../rss.xml"}, "not a feed of this hub"),
        ({"hub.topic": f"{BASE_URL}/.syndicator-manifest"}, "not a feed of this hub"),
        ({"hub.callback": ""}, "hub.callback is required"),
        ({"hub.callback": "ftp://127.0.0.1/x"}, "scheme"),
        ({"hub.callback": "http://127.0.0.1/\x00"}, "control character"),
        ({"hub.lease_seconds": "soon"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "-5"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "0"}, "hub.lease_seconds"),
        ({"hub.secret": "x" * 200}, "less than 200 bytes"),
    ],
)
def test_requests_the_hub_refuses_get_a_4xx_with_the_reason(site, form, reason):
    s = site()
    subscriber = s.subscriber()
    fields = {
        "hub.mode": "subscribe",
        "hub.topic": s.topic(),
        "hub.callback": subscriber.callback(),
    }
    answer = s.http.post(s.url("/hub"), data={**fields, **form})
    assert answer.status_code == 400
    assert reason in answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    # The hub queues a request before it answers 202; none queued, none will be verified.
    assert not _requests_left(s)
    assert subscriber.verifications == []


def test_a_lease_longer_than_the_maximum_is_capped(site):
    s = site()
    subscriber = s.subscriber()
    huge = "9" * 5000
    subscription = subscribe(s, subscriber, hub_lease_seconds=huge)
    assert subscription["lease_seconds"] == s.config.websub.max_lease_seconds


def test_the_hub_wants_a_form(site):
    s = site()
    answer = s.http.post(s.url("/hub"), json={"hub.mode": "subscribe"})
    assert answer.status_code == 415
    assert (
        s.http.post(
            s.url("/hub"),
            content=b"a" * 20000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        == 413
    )


def test_a_private_callback_is_refused_unless_allowed(site):
    s = site(push={"allow_private_targets": False})
    subscriber = s.subscriber()
    answer = s.hub(hub_mode="subscribe", hub_topic=s.topic(), hub_callback=subscriber.callback())
    assert answer.status_code == 400
    assert "loopback" in answer.text
    assert not _requests_left(s)  # nothing queued: nothing will be verified
    assert subscriber.verifications == []


def test_the_hub_is_off_when_websub_is_disabled(site):
    s = site(websub={"enabled": False})
    answer = s.hub(hub_mode="subscribe", hub_topic=s.topic(), hub_callback="http://127.0.0.1:9/")
    assert 400 <= answer.status_code < 500
    assert not _requests_left(s)
    assert links(s.http.get(s.url("/rss.xml")).headers["link"]) == {"self": s.topic()}


def _requests_left(site: Site) -> int:
    with site.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM websub_requests").scalar_one()


def test_a_distribution_queued_before_the_lease_ended_is_not_sent_after(site):
    s = site(deliver=False, websub={"max_lease_seconds": 1})
    subscriber = s.subscriber()
    subscribe(s, subscriber)
    s.write("second.md", "Second")
    assert s.scan() == 1
    wait_for(lambda: not s.subscriptions())  # the lease ended
    s.start_delivering()
    wait_for(lambda: s.deliveries()[0]["status"] == "cancelled")
    assert subscriber.posts == []
