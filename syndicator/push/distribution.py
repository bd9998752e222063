"""What a WebSub content distribution sends (W3C WebSub §7): the feed as it is when sent."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from syndicator.config import Config
from syndicator.push.endpoints import Topic
from syndicator.push.signing import WEBSUB_SIGNATURE_HEADER, websub_signature
from syndicator.vocabulary import FEED_MEDIA_TYPES


def distribution(config: Config, topic: Topic, secret: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a content distribution (§7): the feed document as it is now, with
    the content type it is served with, the hub and self ``Link``s, and ``X-Hub-Signature``
    when the subscriber gave a secret."""
    body = (Path(config.output.dir) / topic.path).read_bytes()
    hub_url = config.hub_endpoint
    headers = {
        "Content-Type": FEED_MEDIA_TYPES[PurePosixPath(topic.path).name],
        "Link": f'<{hub_url}>; rel="hub", <{topic.url}>; rel="self"',
    }
    if secret:
        headers[WEBSUB_SIGNATURE_HEADER] = websub_signature(secret, body)
    return body, headers
