"""The project's vocabularies, each defined once: feed formats, feed kinds, process roles.

Every other module (configuration checks, the renderer, the pages for people, the HTTP server,
the hub) names formats, kinds and roles through these tables, so adding a format or a role is
one line here plus the code that gives it meaning (docs/architecture.md, "Registries").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

FormatName = Literal["rss", "atom", "json"]
FeedKind = Literal["site", "category", "tag"]


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """What a feed format is outside its renderer (the renderers are in ``feeds.renderers``)."""

    name: FormatName
    filename: str
    media_type: str
    label: str


FORMATS: dict[FormatName, FeedFormat] = {
    f.name: f
    for f in (
        FeedFormat("rss", "rss.xml", "application/rss+xml", "RSS"),
        FeedFormat("atom", "atom.xml", "application/atom+xml", "Atom"),
        FeedFormat("json", "feed.json", "application/feed+json", "JSON Feed"),
    )
}
# Feed documents by file name, as served and as pushed to hub subscribers: the name, not the
# extension, says which format a file is.
FEED_MEDIA_TYPES: dict[str, str] = {
    f.filename: f"{f.media_type}; charset=utf-8" for f in FORMATS.values()
}
# Each kind's folder below the output root ("" for the site's own feed), in listing order.
FEED_KIND_FOLDERS: dict[FeedKind, str] = {"site": "", "category": "categories", "tag": "tags"}


class Role(StrEnum):
    """What one ``syndicator run`` process does (``worker.role``, ``--role``)."""

    ALL = "all"
    SCANNER = "scanner"
    DELIVERER = "deliverer"
    WEB = "web"

    @property
    def scans(self) -> bool:
        return self in (Role.ALL, Role.SCANNER)

    @property
    def delivers(self) -> bool:
        return self in (Role.ALL, Role.DELIVERER)

    @property
    def serves(self) -> bool:
        return self in (Role.ALL, Role.WEB)
