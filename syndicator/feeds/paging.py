"""Where each feed document lives, and how a long feed splits into RFC 5005 archives.

The subscription document holds the newest ``max_items``; archives are fixed-size pages counted
from the oldest item, so adding a new item never changes an existing archive and aggregators
can cache them for good. Archive ``k`` lives at ``<feed>/archive/<k>/<file>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from syndicator.catalog import Entry, FeedSpec

FILENAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


@dataclass(frozen=True, slots=True)
class Page:
    """One document of a feed: the current one (``number`` None) or archive ``number``."""

    feed: FeedSpec
    number: int | None
    archives: int
    entries: tuple[Entry, ...]

    def path(self, fmt: str, number: int | None = -1) -> str:
        """Relative output path of this page (or of page ``number`` of the same feed)."""
        number = self.number if number == -1 else number
        folder = self.feed.path
        if number is not None:
            folder = f"{folder}/archive/{number}" if folder else f"archive/{number}"
        return f"{folder}/{FILENAMES[fmt]}" if folder else FILENAMES[fmt]


def pages(feed: FeedSpec, max_items: int) -> list[Page]:
    """The current document first, then archives 1..n (oldest first)."""
    entries = feed.entries
    archives = (len(entries) - 1) // max_items if entries else 0
    current = Page(feed, None, archives, entries[:max_items])
    oldest_first = entries[::-1]
    result = [current]
    for number in range(1, archives + 1):
        chunk = oldest_first[(number - 1) * max_items : number * max_items]
        result.append(Page(feed, number, archives, chunk[::-1]))
    return result
