"""Where each feed document lives, and how a long feed splits into RFC 5005 archives.

The subscription document holds the newest ``max_items``; archives are fixed-size pages counted
from the oldest item, so adding a new item never changes an existing archive and aggregators
can cache them for good. Archive ``k`` lives at ``<feed>/archive/<k>/<file>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syndicator.catalog import Entry, FeedSpec
from syndicator.vocabulary import FORMATS, FormatName


@dataclass(frozen=True, slots=True)
class Page:
    """One document of a feed: the current one (``number`` None) or archive ``number``."""

    feed: FeedSpec
    number: int | None
    archives: int
    entries: tuple[Entry, ...]

    @property
    def updated(self) -> datetime | None:
        """When this document last changed: its newest entry update (None when empty)."""
        return max((e.updated for e in self.entries), default=None)

    def path(self, fmt: FormatName, number: int | None = -1) -> str:
        """Relative output path of this page (or of page ``number`` of the same feed)."""
        return page_path(self.feed.path, self.number if number == -1 else number, fmt)


def page_path(feed_path: str, number: int | None, fmt: FormatName) -> str:
    """Where page ``number`` (None: the current one) of the feed in ``feed_path`` lives."""
    folder = feed_path
    if number is not None:
        folder = f"{folder}/archive/{number}" if folder else f"archive/{number}"
    filename = FORMATS[fmt].filename
    return f"{folder}/{filename}" if folder else filename


def archive_count(size: int, max_items: int) -> int:
    """Full pages counted from the oldest item, the newest ``max_items`` aside; none until
    there are two.

    A lone archive could link no neighbour (RFC 5005 §4: ``prev-archive`` and ``next-archive``
    point to archives, and the subscription document is not one), which feed validators report
    as an incomplete archive. RFC 5005 lets a publisher leave old entries out of its archives,
    so a feed holding fewer than ``2 × max_items + 1`` items publishes its newest ``max_items``
    only; the next item publishes the two oldest pages at once.
    """
    full = (size - 1) // max_items if size else 0
    return full if full >= 2 else 0


def oldest_first_slice(size: int, number: int | None, max_items: int) -> slice:
    """Which positions (oldest first) page ``number`` holds; None is the current page."""
    if number is None:
        return slice(max(0, size - max_items), size)
    return slice((number - 1) * max_items, number * max_items)


def pages_holding(index: int, size: int, max_items: int) -> list[int | None]:
    """The pages that show the item at ``index`` (oldest first): an archive, the current, or both."""
    found: list[int | None] = []
    if index < archive_count(size, max_items) * max_items:
        found.append(index // max_items + 1)
    if index >= size - max_items:
        found.append(None)
    return found
