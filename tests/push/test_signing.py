import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.push.signing import (
    SECRET_PREFIX,
    decode_secret,
    generate_secret,
    webhook_headers,
    webhook_signature,
    websub_signature,
)

BODY = json.dumps(
    {"type": "item.published", "timestamp": "2024-05-01T08:00:00Z", "data": {"id": "x"}}
).encode()


def test_generated_secrets_are_prefixed_random_keys_of_the_asked_size():
    first, second = generate_secret(), generate_secret()
    assert first.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(first.removeprefix(SECRET_PREFIX))) == 32
    assert len(decode_secret(generate_secret(24))) == 24
    assert first != second


@pytest.mark.parametrize("nbytes", [0, 16, 23, 65])
def test_generate_secret_refuses_sizes_outside_the_standard(nbytes):
    with pytest.raises(ValueError, match="24 to 64"):
        generate_secret(nbytes)


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The vector published with the Standard Webhooks / Svix reference libraries.
    signature = webhook_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_the_standard_webhooks_library():
    secret = generate_secret()
    timestamp = int(time.time())
    headers = webhook_headers(secret, "msg_1", timestamp, BODY)

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(timestamp)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_non_ascii_bodies_are_signed_as_their_utf8_bytes():
    secret = generate_secret()
    body = json.dumps({"title": "Communiqué — Cœur"}, ensure_ascii=False).encode()
    headers = webhook_headers(secret, "msg_2", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["title"] == "Communiqué — Cœur"


SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()


@pytest.mark.parametrize(
    "altered",
    [
        {"body": BODY.replace(b"published", b"unpublished")},
        {"body": BODY + b" "},
        {"msg_id": "msg_2"},
        {"timestamp": -1},  # a second earlier
        {"secret": OTHER_SECRET},
    ],
    ids=["body", "one-byte-more", "id", "timestamp", "secret"],
)
def test_the_signature_covers_body_id_timestamp_and_secret(altered):
    # Our signer, not the reference library, is under test: changing any one input changes
    # the signature, so headers made for one message never verify another.
    now = int(time.time())
    if "timestamp" in altered:
        altered = {"timestamp": now + altered["timestamp"]}
    signed = {"secret": SECRET, "msg_id": "msg_1", "timestamp": now, "body": BODY}
    original = webhook_headers(**signed)
    changed = webhook_headers(**{**signed, **altered})
    assert changed["webhook-signature"] != original["webhook-signature"]
    message = {**signed, **altered}
    headers = {
        **original,
        "webhook-id": message["msg_id"],
        "webhook-timestamp": str(message["timestamp"]),
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(message["secret"]).verify(message["body"], headers)
    # …and the reference library accepts what we signed for that message.
    assert Webhook(message["secret"]).verify(message["body"], changed) == json.loads(
        message["body"]
    )


def test_unpadded_secrets_sign_like_the_reference_library():
    key = bytes(range(25))  # 25 bytes: base64 with "==" padding
    padded = SECRET_PREFIX + base64.b64encode(key).decode()
    unpadded = padded.rstrip("=")
    headers = webhook_headers(unpadded, "msg_1", int(time.time()), BODY)
    assert decode_secret(unpadded) == key
    assert Webhook(padded).verify(BODY, headers)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (base64.b64encode(bytes(32)).decode(), "starts with"),
        (SECRET_PREFIX + "not*base64!", "base64"),
        (SECRET_PREFIX + base64.b64encode(bytes(16)).decode(), "24 to 64"),
    ],
)
def test_malformed_secrets_are_refused(secret, message):
    with pytest.raises(ValueError, match=message):
        webhook_signature(secret, "msg_1", 0, BODY)


def test_websub_signature_is_hex_hmac_sha256_of_the_body():
    # RFC 4231 test case 2.
    assert websub_signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert websub_signature("Jefe", b"what do ya want for nothing!") != websub_signature(
        "Jefe", b"what do ya want for nothing?"
    )
