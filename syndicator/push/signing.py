"""Signatures that let a receiver check a push came from us and was not altered.

Webhooks follow Standard Webhooks (https://www.standardwebhooks.com/), so a consumer verifies
with any of its libraries; WebSub content distribution uses the hub's `X-Hub-Signature`.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# Standard Webhooks asks for 24 to 64 bytes: shorter keys are guessable, longer ones pointless
# (HMAC-SHA256 hashes longer keys down to 32 bytes).
SECRET_BYTES_RANGE = range(24, 65)
WEBSUB_SIGNATURE_HEADER = "X-Hub-Signature"


def generate_secret(nbytes: int = SECRET_BYTES) -> str:
    """A new `whsec_<base64>` signing secret, from the OS's cryptographic randomness."""
    if nbytes not in SECRET_BYTES_RANGE:
        raise ValueError(f"a secret has 24 to 64 bytes, not {nbytes}")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside a `whsec_<base64>` secret.

    Strict about the prefix and the alphabet, so that a secret pasted wrong is an error here
    rather than signatures no consumer accepts; missing base64 padding is forgiven, as the
    reference libraries do.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as error:
        raise ValueError(f"a webhook secret is base64 after {SECRET_PREFIX!r}") from error
    if len(key) not in SECRET_BYTES_RANGE:
        raise ValueError(f"a webhook secret holds 24 to 64 bytes, not {len(key)}")
    return key


class WebhookSigner:
    """Signs for one secret: the key is decoded and its HMAC pads hashed once, and each
    signature copies that state (a fan-out signs the same endpoint's posts in a row)."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: str) -> None:
        self._keyed = hmac.new(decode_secret(secret), digestmod=hashlib.sha256)

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """`v1,<base64 HMAC-SHA256>` of `msg_id.timestamp.body`, the `webhook-signature` value.

        Signing the id and timestamp with the body is what lets consumers reject replays: an
        old body cannot be sent again under a fresh timestamp.
        """
        mac = self._keyed.copy()
        mac.update(f"{msg_id}.{timestamp}.".encode())
        mac.update(body)
        return "v1," + base64.b64encode(mac.digest()).decode("ascii")

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers for one attempt.

        `msg_id` stays the same on every retry of one event to one endpoint (consumers
        deduplicate on it); `timestamp` is the attempt's own time in Unix seconds, not the
        event's: consumers refuse timestamps more than a few minutes old, so every retry is
        signed anew.
        """
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.signature(msg_id, timestamp, body),
        }


def webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`WebhookSigner.signature` for a single use."""
    return WebhookSigner(secret).signature(msg_id, timestamp, body)


def webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """`WebhookSigner.headers` for a single use."""
    return WebhookSigner(secret).headers(msg_id, timestamp, body)


def websub_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256>` of the body with the subscriber's `hub.secret`, the value of
    the `X-Hub-Signature` header of WebSub content distribution."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
