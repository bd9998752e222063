"""Refuse push targets inside our own network (SSRF), at subscription time and at connect time.

Whoever subscribes chooses the URL, and the worker runs inside our network: unguarded, a
subscription to `http://169.254.169.254/` or `http://localhost:5432/` would turn the worker into
a proxy to cloud metadata and internal services, with the delivery log as the reply channel.

This module is the policy (which addresses are refused), on the standard library only: `syndicator
build` reaches it through the announcer's outbox, and must not import an HTTP stack it never
uses. The transports that apply it at connect time are in `push.pinned`.
"""

import socket
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from operator import attrgetter
from urllib.parse import SplitResult, urlsplit

IPAddress = IPv4Address | IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ip_network("64:ff9b::/96")

# First match names the reason, so the most telling properties come first (169.254.169.254 is
# both link-local and private; "link-local" is what an operator needs to read).
_REFUSED_KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("the unspecified address", attrgetter("is_unspecified")),
    ("a loopback address", attrgetter("is_loopback")),
    ("a link-local address", attrgetter("is_link_local")),
    ("a multicast address", attrgetter("is_multicast")),
    ("a private address", attrgetter("is_private")),
    ("a reserved address", attrgetter("is_reserved")),
    ("not a public address", lambda address: not address.is_global),
)


class TargetRefused(Exception):
    """A target we will not send to; the message names it, the address and why, for the
    subscriber who typed the URL and the operator reading the delivery log."""

    def __init__(self, target: str, reason: str, address: IPAddress | None = None) -> None:
        self.target = target
        self.reason = reason
        self.address = address
        where = reason if address is None else f"{address} is {reason}"
        super().__init__(f"refused to send to {target}: {where}")


def refusal_reason(address: IPAddress) -> str | None:
    """Why the worker must not reach `address`, or None for a public address.

    IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, NAT64, 6to4) are judged by that
    IPv4 address, where the packets end up: Python calls ::ffff:127.0.0.1 neither loopback nor
    private, and calls every NAT64 address reserved even when it reaches a public host.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal_reason(embedded)
        return None if reason is None else f"{reason} (IPv4 {embedded})"
    return next((reason for reason, applies in _REFUSED_KINDS if applies(address)), None)


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, literal IPs included, in the order to try them.

    Decimal and short forms (`2130706433`, `127.1`) go through the same resolver as names, so
    they are judged as the 127.0.0.1 they are. The address family is urllib3's choice (IPv4
    only where the host has no IPv6), the same as the transports connect with.
    """
    from urllib3.util.connection import allowed_gai_family

    infos = socket.getaddrinfo(host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM)
    return list(dict.fromkeys(ip_address(sockaddr[0]) for *_, sockaddr in infos))


def refuse_private(target: str, addresses: Iterable[IPAddress]) -> None:
    """Refuse if any address is not public: a name with one public and one private address
    would otherwise reach the private one whenever the resolver puts it first."""
    for address in addresses:
        reason = refusal_reason(address)
        if reason is not None:
            raise TargetRefused(target, reason, address)


def check_scheme(url: str) -> SplitResult:
    """`url`'s parts, if it is http(s): nothing else is ever sent to, whatever the transport
    would accept."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise TargetRefused(url, f"the scheme {parts.scheme!r} is not http or https")
    return parts


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse `url` unless it is http(s) and, without `allow_private`, every address of its
    host is public.

    Meant for the moment a subscription is made, to answer the subscriber at once. It cannot be
    the last word: DNS may answer differently when the worker connects, which is why
    `pinned.GuardedAdapter` checks again the addresses it actually connects to.
    """
    parts = check_scheme(url)
    if not parts.hostname:
        raise TargetRefused(url, "the URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise TargetRefused(url, f"the port is not valid ({error})") from error
    if allow_private:
        return
    try:
        addresses = resolve(parts.hostname, port)
    except (socket.gaierror, UnicodeError) as error:
        reason = f"the host {parts.hostname} cannot be resolved ({error})"
        raise TargetRefused(url, reason) from error
    refuse_private(url, addresses)
