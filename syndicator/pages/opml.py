"""``feeds.opml``: every feed in one file, so one import in a reader subscribes to all of them."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree
from lxml.builder import E

from syndicator.catalog import FeedSpec
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import page_path
from syndicator.vocabulary import FormatName

_SECTIONS = (("site", "Site"), ("category", "Categories"), ("tag", "Tags"))


def preferred_format(formats: Sequence[FormatName]) -> FormatName:
    """The format offered when only one can be: Atom, the most precisely specified."""
    preferred: tuple[FormatName, ...] = ("atom", "rss", "json")
    return next(f for f in preferred if f in formats)


def render_opml(
    feeds: Sequence[FeedSpec], formats: Sequence[FormatName], site: SiteContext
) -> bytes:
    """One outline per feed (in its preferred format), so one import subscribes to each once."""
    fmt = preferred_format(formats)
    body = E.body()
    for kind, heading in _SECTIONS:
        members = [f for f in feeds if f.kind == kind]
        if not members:
            continue
        group = E.outline(text=heading, title=heading)
        for feed in members:
            title = site.feed_title(feed)
            group.append(
                E.outline(
                    type="rss",
                    text=title,
                    title=title,
                    xmlUrl=site.url(page_path(feed.path, None, fmt)),
                    htmlUrl=site.url(f"{feed.path}/" if feed.path else ""),
                )
            )
        body.append(group)
    opml = E.opml(E.head(E.title(f"{site.title} — feeds")), body, version="2.0")
    data: bytes = etree.tostring(opml, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
