"""The two pages that let people find the feeds: ``index.html`` and ``feeds.opml``."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree
from lxml.builder import E

from syndicator.catalog import FeedSpec
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import page_path
from syndicator.vocabulary import FORMATS, FormatName

_SECTIONS = (("site", "Site"), ("category", "Categories"), ("tag", "Tags"))


def _feed_path(feed: FeedSpec, fmt: FormatName) -> str:
    return page_path(feed.path, None, fmt)


def render_index(
    feeds: Sequence[FeedSpec], formats: Sequence[FormatName], site: SiteContext
) -> bytes:
    """Autodiscovery ``<link rel="alternate">`` for every feed, and a plain list to click."""
    head = E.head(
        E.meta(charset="utf-8"),
        E.meta(name="viewport", content="width=device-width, initial-scale=1"),
        E.title(f"{site.title} — feeds"),
    )
    for feed in feeds:
        for fmt in formats:
            head.append(
                E.link(
                    rel="alternate",
                    type=FORMATS[fmt].media_type,
                    title=f"{site.feed_title(feed)} ({FORMATS[fmt].label})",
                    href=site.url(_feed_path(feed, fmt)),
                )
            )
    body = E.body(E.h1(f"{site.title} — feeds"), E.p(E.a("OPML (all feeds)", href="feeds.opml")))
    for kind, heading in _SECTIONS:
        members = [f for f in feeds if f.kind == kind]
        if not members:
            continue
        body.append(E.h2(heading))
        listing = E.ul()
        for feed in members:
            label = feed.name or site.title
            row = E.li(f"{label} ({feed.size}) ")
            for fmt in formats:
                row.append(E.a(FORMATS[fmt].label, href=_feed_path(feed, fmt)))
                row.append(E.span(" "))
            listing.append(row)
        body.append(listing)
    page = E.html(head, body, lang=site.language)
    return b"<!DOCTYPE html>\n" + etree.tostring(page, method="html", encoding="utf-8") + b"\n"


def render_opml(
    feeds: Sequence[FeedSpec], formats: Sequence[FormatName], site: SiteContext
) -> bytes:
    """One outline per feed (in its preferred format), so one import subscribes to each once."""
    preferred: tuple[FormatName, ...] = ("atom", "rss", "json")
    fmt = next(f for f in preferred if f in formats)
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
                    xmlUrl=site.url(_feed_path(feed, fmt)),
                    htmlUrl=site.base_url + "/",
                )
            )
        body.append(group)
    opml = E.opml(E.head(E.title(f"{site.title} — feeds")), body, version="2.0")
    return etree.tostring(opml, xml_declaration=True, encoding="UTF-8", pretty_print=True)
