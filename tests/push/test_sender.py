import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.push.sender import Attempt, Outcome, Sender, parse_retry_after
from syndicator.push.signing import generate_secret, webhook_headers

from .receivers import Receiver, never_answer, reply, trickle

BODY = json.dumps({"type": "item.published", "data": {"id": "https://example.org/a/"}}).encode()
HEADERS = {"Content-Type": "application/json", "webhook-id": "msg_1"}
NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _wait(condition, timeout: float = 30.0) -> None:
    """Until `condition()` holds; the timeout is only a hang guard."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def sender():
    with Sender(allow_private=True) as sender:
        yield sender


def test_a_2xx_answer_delivers_the_body_and_headers_as_given(serve, sender):
    receiver = serve(reply(202))

    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)

    assert attempt.outcome is Outcome.DELIVERED
    assert (attempt.status, attempt.error, attempt.retry_after) == (202, None, None)
    assert 0 < attempt.duration_ms < 5000
    [received] = receiver.received
    assert received.path == "/hook"
    assert received.body == BODY
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["webhook-id"] == "msg_1"


@pytest.mark.parametrize(
    ("status", "outcome", "error"),
    [
        (200, Outcome.DELIVERED, None),
        (204, Outcome.DELIVERED, None),
        (400, Outcome.FAILED, "HTTP 400 Bad Request"),
        (404, Outcome.FAILED, "HTTP 404 Not Found"),
        (410, Outcome.GONE, "HTTP 410 Gone"),
        (500, Outcome.FAILED, "HTTP 500 Internal Server Error"),
        (599, Outcome.FAILED, "HTTP 599"),
    ],
)
def test_the_status_decides_the_outcome(serve, sender, status, outcome, error):
    # A 204 has no body (RFC 9110 §15.3.5): bytes after its head would be the next response.
    receiver = serve(reply(status, body=b"" if status == 204 else b"reply body"))
    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)
    assert (attempt.status, attempt.outcome, attempt.error) == (status, outcome, error)


def test_redirects_are_not_followed_and_fail(serve, sender):
    receiver = serve(reply(301, {"Location": "/moved"}))

    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)

    assert attempt.outcome is Outcome.FAILED
    assert attempt.status == 301
    assert attempt.error == "HTTP 301 Moved Permanently: redirect to /moved not followed"
    assert [r.path for r in receiver.received] == ["/hook"]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_read_on_429_and_503(serve, sender, status):
    receiver = serve(reply(status, {"Retry-After": "120"}))
    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)
    assert (attempt.outcome, attempt.status, attempt.retry_after) == (
        Outcome.FAILED,
        status,
        120.0,
    )


def test_retry_after_as_an_http_date_is_read(serve, sender):
    when = datetime.now(UTC) + timedelta(seconds=90)
    receiver = serve(reply(429, {"Retry-After": format_datetime(when, usegmt=True)}))
    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)
    assert attempt.retry_after is not None
    assert 85 <= attempt.retry_after <= 90


def test_retry_after_is_ignored_on_other_statuses(serve, sender):
    receiver = serve(reply(500, {"Retry-After": "120"}))
    assert sender.post(receiver.url(), BODY, HEADERS, timeout=5).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        (" 3600 ", 3600.0),
        ("Wed, 01 May 2024 08:02:00 GMT", 120.0),
        ("Wednesday, 01-May-24 08:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 07:00:00 GMT", 0.0),
        ("-5", None),
        ("1.5", None),
        ("²", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_a_server_that_never_answers_times_out(serve, sender):
    receiver = serve(never_answer)

    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=1)

    assert attempt.outcome is Outcome.FAILED
    assert attempt.status is None
    assert attempt.error == "timed out: no complete response within 1 s"
    assert attempt.duration_ms >= 900


def test_a_trickled_answer_is_cut_at_the_total_timeout(serve, sender):
    # One byte every 0.1 s never trips a 1 s read timeout; sent whole it would take 6 s.
    receiver = serve(trickle(b"", b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 0\r\n" * 4 + b"\r\n"))

    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=1)

    assert attempt.status is None
    assert attempt.error == "timed out: no complete response within 1 s"
    assert attempt.duration_ms >= 900


def test_a_trickled_body_after_a_2xx_is_cut_but_delivered(serve, sender):
    # 60 s of body: the attempt returns while the receiver is still sending it.
    respond = trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n", b"x" * 600)
    finished = threading.Event()

    def trickle_then_mark(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        respond(handler, receiver)
        finished.set()

    receiver = serve(trickle_then_mark)

    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=1)

    assert (attempt.outcome, attempt.status, attempt.error) == (Outcome.DELIVERED, 200, None)
    assert not finished.is_set()


def test_a_connection_refused_fails_with_its_cause(closed_port, sender):
    attempt = sender.post(f"http://127.0.0.1:{closed_port}/hook", BODY, HEADERS, timeout=5)
    assert attempt.outcome is Outcome.FAILED
    assert attempt.status is None
    assert attempt.error == "ConnectionRefusedError: [Errno 111] Connection refused"


def test_a_connection_closed_without_answer_fails(serve, sender):
    def hang_up(handler: BaseHTTPRequestHandler, _: Receiver) -> None:
        handler.close_connection = True

    receiver = serve(hang_up)
    attempt = sender.post(receiver.url(), BODY, HEADERS, timeout=5)
    assert attempt.status is None
    assert attempt.error == "ServerDisconnectedError: Server disconnected"


def test_posts_from_one_thread_share_a_keep_alive_connection(serve, sender):
    receiver = serve(reply(200, body=b"ok"))
    attempts = [sender.post(receiver.url(), BODY, HEADERS, timeout=5) for _ in range(3)]
    assert [a.status for a in attempts] == [200, 200, 200]
    assert len(receiver.received) == 3
    assert receiver.connections == 1


def test_a_long_reply_is_not_read_to_its_end_and_costs_the_connection(serve, sender):
    receiver = serve(reply(200, body=b"x" * 1_000_000))
    attempts = [sender.post(receiver.url(), BODY, HEADERS, timeout=5) for _ in range(2)]
    assert [a.status for a in attempts] == [200, 200]
    assert receiver.connections == 2


def test_threads_take_turns_on_one_kept_alive_connection(serve, sender):
    receiver = serve(reply(204))
    statuses: list[int | None] = []
    for _ in range(3):
        thread = threading.Thread(
            target=lambda: statuses.append(sender.post(receiver.url(), BODY, HEADERS, 5).status)
        )
        thread.start()
        thread.join()
    assert statuses == [204] * 3
    assert receiver.connections == 1


def test_concurrent_posts_to_one_host_each_have_a_connection_and_keep_it(serve, sender):
    both_in = threading.Barrier(2, timeout=5)

    def together_then_ok(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        if len(receiver.received) <= 2:
            both_in.wait()
        reply(204)(handler, receiver)

    receiver = serve(together_then_ok)
    statuses: list[int | None] = []

    def work() -> None:
        statuses.extend(sender.post(receiver.url(), BODY, HEADERS, timeout=5).status for _ in "ab")

    with Sender(allow_private=True) as sender:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [204] * 4
    assert receiver.connections == 2


def test_a_deadline_cuts_only_the_late_threads_exchange(serve):
    stalled_done = threading.Event()

    def by_path(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        if handler.path == "/stall":
            never_answer(handler, receiver)
        else:
            # /slow answers only once the stalled post has given up: in flight all along.
            stalled_done.wait(30)
            reply(204)(handler, receiver)

    receiver = serve(by_path)
    with Sender(allow_private=True) as sender:
        # Both on the one pool of this host: the stalled post's deadline passes while the
        # other is in flight on its own connection.
        slow = []
        patient = threading.Thread(
            target=lambda: slow.append(sender.post(receiver.url("/slow"), BODY, HEADERS, 5))
        )
        patient.start()
        _wait(lambda: [r.path for r in receiver.received] == ["/slow"])
        stalled = sender.post(receiver.url("/stall"), BODY, HEADERS, timeout=0.5)
        stalled_done.set()
        patient.join()

    assert stalled.error == "timed out: no complete response within 0.5 s"
    assert (slow[0].status, slow[0].error) == (204, None)


def test_one_stalled_endpoint_does_not_delay_another_thread(serve, sender):
    stalled, healthy = serve(never_answer), serve(reply(204))
    slow = threading.Thread(target=sender.post, args=(stalled.url(), BODY, HEADERS, 60))
    slow.start()
    _wait(lambda: len(stalled.received) == 1)

    attempt = sender.post(healthy.url(), BODY, HEADERS, timeout=60)

    # Answered while the stalled post (60 s timeout, never answered) is still in flight.
    assert attempt.status == 204
    assert slow.is_alive()
    stalled.release.set()
    slow.join()


def verifying(secret: str):
    """A receiver that checks the signature as a consumer would, with the reference library."""

    def respond(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        received = receiver.received[-1]
        try:
            Webhook(secret).verify(received.body, received.headers)
        except WebhookVerificationError:
            reply(400)(handler, receiver)
        else:
            reply(204)(handler, receiver)

    return respond


def test_a_consumer_verifies_the_signature(serve, sender):
    secret = generate_secret()
    receiver = serve(verifying(secret))
    headers = {"Content-Type": "application/json"}

    signed = headers | webhook_headers(secret, "msg_1", int(time.time()), BODY)
    assert sender.post(receiver.url(), BODY, signed, timeout=5).outcome is Outcome.DELIVERED

    tampered = BODY.replace(b"published", b"unpublished")
    attempt = sender.post(receiver.url(), tampered, signed, timeout=5)
    assert (attempt.outcome, attempt.error) == (Outcome.FAILED, "HTTP 400 Bad Request")

    forged = headers | webhook_headers(generate_secret(), "msg_1", int(time.time()), BODY)
    assert sender.post(receiver.url(), BODY, forged, timeout=5).status == 400


def test_errors_and_logs_never_show_the_signature(serve, closed_port, sender, caplog):
    secret = generate_secret()
    signed = webhook_headers(secret, "msg_1", int(time.time()), BODY)
    urls = [
        serve(reply(500)).url(),
        serve(reply(302, {"Location": "/elsewhere"})).url(),
        serve(never_answer).url(),
        f"http://127.0.0.1:{closed_port}/hook",
    ]

    with caplog.at_level(logging.DEBUG):
        attempts = [sender.post(url, BODY, signed, timeout=0.5) for url in urls]

    assert all(a.error for a in attempts)
    printed = caplog.text + "".join(a.error or "" for a in attempts)
    for value in (secret, secret.removeprefix("whsec_"), signed["webhook-signature"]):
        assert value not in printed
        assert value.split(",")[-1] not in printed


def test_private_targets_are_refused_before_any_connection(serve, connects):
    receiver = serve(reply(204))
    # IP literals (never resolved by the transport) and names (resolved, then checked).
    by_name = receiver.url(host="localhost")
    in_decimal = f"http://2130706433:{receiver.port}/hook"
    with Sender() as sender:
        attempts = {
            url: sender.post(url, BODY, HEADERS, timeout=2)
            for url in (
                receiver.url(),
                "http://10.0.0.1/hook",
                "http://169.254.169.254/",
                by_name,
                in_decimal,
            )
        }

    assert attempts[receiver.url()].error == (
        f"refused to send to 127.0.0.1:{receiver.port}: 127.0.0.1 is a loopback address"
    )
    assert attempts["http://10.0.0.1/hook"].error == (
        "refused to send to 10.0.0.1:80: 10.0.0.1 is a private address"
    )
    assert attempts["http://169.254.169.254/"].error == (
        "refused to send to 169.254.169.254:80: 169.254.169.254 is a link-local address"
    )
    assert attempts[by_name].error == (
        f"refused to send to localhost:{receiver.port}: 127.0.0.1 is a loopback address"
    )
    # yarl refuses the decimal form of an address outright.
    assert attempts[in_decimal].error == (
        "InvalidUrlClientError: 2130706433 - is not a canonical IPv4 address"
    )
    assert {a.outcome for a in attempts.values()} == {Outcome.FAILED}
    assert {a.status for a in attempts.values()} == {None}
    assert connects == []
    assert receiver.connections == 0


def test_other_schemes_are_not_sent(sender, connects):
    attempt = sender.post("file:///etc/passwd", BODY, HEADERS, timeout=2)
    assert attempt.status is None
    assert attempt.error == (
        "refused to send to file:///etc/passwd: the scheme 'file' is not http or https"
    )
    assert connects == []


def test_attempts_are_immutable():
    attempt = Attempt(status=200, duration_ms=1.0, error=None)
    with pytest.raises(AttributeError):
        attempt.status = 500  # type: ignore[misc]


def test_tls_is_verified_against_the_host_name(serve):
    # The receiver's certificate is self-signed, so no CA the sender trusts vouches for it;
    # the handshake still names the host (SNI), not the address it connected to.
    receiver = serve(reply(204), tls=True)
    with Sender(allow_private=True) as sender:
        attempt = sender.post(receiver.url(host="localhost"), BODY, HEADERS, timeout=5)

    assert attempt.status is None
    assert attempt.error is not None and "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert receiver.server_names == ["localhost"]
    assert receiver.received == []
