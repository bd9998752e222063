import re
import socket
import threading
import time
from ipaddress import ip_address

import pytest
import requests

from syndicator.push.guard import TargetRefused, check_target, refusal_reason
from syndicator.push.pinned import GuardedAdapter
from syndicator.push.sender import Sender

from .receivers import CERT, reply, trickle

REFUSED = [
    # url, address named in the error, reason named in the error
    ("http://127.0.0.1/hook", "127.0.0.1", "a loopback address"),
    ("http://10.0.0.1/hook", "10.0.0.1", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a link-local address"),
    ("http://[::1]:8080/hook", "::1", "a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1", "a loopback address (IPv4 127.0.0.1)"),
    ("http://0.0.0.0/hook", "0.0.0.0", "the unspecified address"),
    ("http://localhost:8080/hook", "127.0.0.1", "a loopback address"),
    ("http://2130706433/hook", "127.0.0.1", "a loopback address"),
    ("http://127.1/hook", "127.0.0.1", "a loopback address"),
    ("https://192.168.1.20:8443/hook", "192.168.1.20", "a private address"),
    ("http://100.64.0.1/hook", "100.64.0.1", "not a public address"),
    ("http://224.0.0.1/hook", "224.0.0.1", "a multicast address"),
    ("http://[fe80::1]/hook", "fe80::1", "a link-local address"),
    ("http://[fd12:3456::1]/hook", "fd12:3456::1", "a private address"),
    ("http://[64:ff9b::a00:1]/hook", "64:ff9b::a00:1", "a private address (IPv4 10.0.0.1)"),
    (
        "http://[2002:a9fe:a9fe::]/hook",
        "2002:a9fe:a9fe::",
        "a link-local address (IPv4 169.254.169.254)",
    ),
]


@pytest.mark.parametrize(("url", "address", "reason"), REFUSED)
def test_private_targets_are_refused_naming_url_address_and_reason(url, address, reason, connects):
    with pytest.raises(TargetRefused) as refused:
        check_target(url, allow_private=False)
    assert str(refused.value) == f"refused to send to {url}: {ip_address(address)} is {reason}"
    assert refused.value.address == ip_address(address)
    assert connects == []


@pytest.mark.parametrize(("url", "address", "reason"), REFUSED)
def test_private_targets_are_allowed_when_asked(url, address, reason):
    # The same URLs refused above pass (no exception) when private targets are allowed.
    check_target(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]/hook",
        "http://[::ffff:93.184.216.34]/hook",
        "http://[64:ff9b::5db8:d822]/hook",
    ],
)
def test_public_addresses_pass(url, connects):
    check_target(url, allow_private=False)
    assert connects == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/hook", "the scheme 'ftp' is not http or https"),
        ("file:///etc/passwd", "the scheme 'file' is not http or https"),
        ("gopher://localhost:70/_", "the scheme 'gopher' is not http or https"),
        ("javascript:alert(1)", "the scheme 'javascript' is not http or https"),
        ("localhost:8080/hook", "the scheme 'localhost' is not http or https"),
        ("http:///hook", "the URL has no host"),
        ("http://example.org:99999/hook", "the port is not valid"),
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_malformed_urls_are_refused_even_when_private_is_allowed(url, reason, allow_private):
    with pytest.raises(TargetRefused, match="^refused to send to .*: " + re.escape(reason)):
        check_target(url, allow_private=allow_private)


def test_a_host_that_cannot_be_resolved_is_refused():
    with pytest.raises(TargetRefused, match=r"the host bad\.\.name cannot be resolved"):
        check_target("http://bad..name/hook", allow_private=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("2002:808:808::", None),
        ("172.16.0.1", "a private address"),
        ("240.0.0.1", "a private address"),
        ("4000::1", "a reserved address"),
        ("::", "the unspecified address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:10.1.2.3", "a private address (IPv4 10.1.2.3)"),
    ],
)
def test_refusal_reason(address, reason):
    assert refusal_reason(ip_address(address)) == reason


def guarded_session(*, allow_private: bool) -> tuple[requests.Session, GuardedAdapter]:
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(allow_private=allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


def test_the_adapter_refuses_before_connecting(serve, connects):
    receiver = serve(reply(204))
    session, _ = guarded_session(allow_private=False)
    for url in (receiver.url(host="localhost"), "http://10.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(TargetRefused, match=r"is a (loopback|private|link-local) address"):
            session.post(url, data=b"{}", timeout=2)
    assert connects == []
    assert receiver.connections == 0


@pytest.fixture
def rebinding_dns(monkeypatch):
    """DNS for `rebind.test`: the first `public_answers` lookups answer a public address, the
    next ones 127.0.0.1. Other names resolve as usual. Returns the lookups made."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def install(public_answers: int) -> list[str]:
        def getaddrinfo(host, port, *args, **kwargs):
            if host != "rebind.test":
                return real_getaddrinfo(host, port, *args, **kwargs)
            lookups.append(host)
            answer = "93.184.216.34" if len(lookups) <= public_answers else "127.0.0.1"
            return real_getaddrinfo(answer, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return install


Outcomes = list[tuple[int | None, str | None]]


def _verifier_posts(url: str, *, allow_private: bool, times: int = 1) -> Outcomes:
    """Status or refusal of each post through the WebSub verifier's transport (requests)."""
    session, _ = guarded_session(allow_private=allow_private)
    outcomes: Outcomes = []
    for _ in range(times):
        try:
            outcomes.append((session.post(url, data=b"{}", timeout=2).status_code, None))
        except TargetRefused as refused:
            outcomes.append((None, str(refused)))
    return outcomes


def _fan_out_posts(url: str, *, allow_private: bool, times: int = 1) -> Outcomes:
    """Status or refusal of each post through the fan-out's transport (aiohttp)."""
    with Sender(allow_private=allow_private) as sender:
        attempts = [sender.post(url, b"{}", {}, timeout=2) for _ in range(times)]
    return [(attempt.status, attempt.error) for attempt in attempts]


both_transports = pytest.mark.parametrize(
    "posts", [_verifier_posts, _fan_out_posts], ids=["verifier", "fan-out"]
)


@both_transports
def test_dns_rebinding_is_refused_at_connect_time(posts, serve, rebinding_dns, connects):
    receiver = serve(reply(204))
    lookups = rebinding_dns(public_answers=1)
    url = f"http://rebind.test:{receiver.port}/hook"

    check_target(url, allow_private=False)  # the name looked public when checked
    outcomes = posts(url, allow_private=False)

    refusal = f"refused to send to rebind.test:{receiver.port}: 127.0.0.1 is a loopback address"
    assert outcomes == [(None, refusal)]
    assert lookups == ["rebind.test", "rebind.test"]
    assert connects == []
    assert receiver.connections == 0


@both_transports
def test_the_connection_goes_to_the_address_resolved_once(posts, serve, rebinding_dns, connects):
    # Second and later lookups would answer a public address: a transport resolving again
    # after its check would try to reach it, and the `connects` tripwire would fail the test.
    receiver = serve(reply(204))
    lookups = rebinding_dns(public_answers=0)

    outcomes = posts(f"http://rebind.test:{receiver.port}/hook", allow_private=True, times=2)

    assert outcomes == [(204, None), (204, None)]
    assert lookups == ["rebind.test"]
    assert connects == [("127.0.0.1", receiver.port)]
    assert receiver.received[0].headers["Host"] == f"rebind.test:{receiver.port}"


def test_tls_keeps_the_host_name_for_sni_and_the_certificate(serve):
    receiver = serve(reply(204), tls=True)
    session, _ = guarded_session(allow_private=True)

    response = session.post(receiver.url(host="localhost"), data=b"{}", verify=CERT, timeout=2)

    assert response.status_code == 204
    assert receiver.server_names == ["localhost"]
    assert receiver.received[0].headers["Host"] == f"localhost:{receiver.port}"
    # The certificate names localhost only: checked against the address it would fail.
    with pytest.raises(requests.exceptions.SSLError, match=r"127\.0\.0\.1"):
        session.post(receiver.url(host="127.0.0.1"), data=b"{}", verify=CERT, timeout=2)


def test_proxies_are_refused(serve, connects):
    receiver = serve(reply(204))
    session, _ = guarded_session(allow_private=True)
    proxy = f"http://127.0.0.1:{receiver.port}"
    with pytest.raises(TargetRefused, match="proxy"):
        session.post("http://example.org/hook", data=b"{}", proxies={"http": proxy}, timeout=2)
    assert connects == []


def test_interrupt_wakes_a_blocked_tls_read(serve):
    # 60 s of body, a byte every 0.1 s: read whole, the GET would succeed. Only the
    # interrupt, sent once the request arrived, makes it fail.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n"
    receiver = serve(trickle(head, b"x" * 600), tls=True)
    session, adapter = guarded_session(allow_private=True)
    reader = threading.get_ident()

    def interrupt_once_asked() -> None:
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.01)
        adapter.interrupt(reader)

    threading.Thread(target=interrupt_once_asked, daemon=True).start()
    with pytest.raises(requests.RequestException):
        session.get(receiver.url(host="localhost"), verify=CERT, timeout=5)


@pytest.fixture
def writes(monkeypatch):
    """The sizes of the socket writes this thread makes (the receivers write from others)."""
    sizes: list[int] = []
    writer = threading.get_ident()
    real_sendall = socket.socket.sendall

    def sendall(sock, data, *args):
        if threading.get_ident() == writer:
            sizes.append(len(data))
        return real_sendall(sock, data, *args)

    monkeypatch.setattr(socket.socket, "sendall", sendall)
    return sizes


def test_a_request_goes_out_in_one_write(serve, writes):
    receiver = serve(reply(204))
    session, _ = guarded_session(allow_private=True)
    body = b'{"type": "item.published"}' * 100

    assert session.post(receiver.url(), data=body, timeout=2).status_code == 204

    assert len(writes) == 1 and writes[0] > len(body), "head and body in one write"
    assert receiver.received[0].body == body


def test_a_request_without_body_or_with_a_large_one_arrives_whole(serve, writes):
    receiver = serve(reply(204))
    session, _ = guarded_session(allow_private=True)
    large = b"x" * (256 * 1024)

    assert session.get(receiver.url("/verify?hub.challenge=1"), timeout=2).status_code == 204
    assert session.post(receiver.url(), data=large, timeout=5).status_code == 204

    assert [r.path for r in receiver.received] == ["/verify?hub.challenge=1", "/hook"]
    assert receiver.received[1].body == large
    assert len(writes) == 3, "the GET's head when the response is asked for; head, then body"
