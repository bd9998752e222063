"""The feedgen objects shared by the RSS and Atom renderers.

feedgen builds each entry's and each channel's XML, so the format rules (escaping, RFC 822 and
RFC 3339 dates, required elements) live in one well-used library. Entries are serialised once
per item and reused in every feed and archive page that holds the item.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from syndicator.catalog import Entry
from syndicator.content.slugs import name_slug
from syndicator.feeds.context import GENERATOR, GENERATOR_URI, VERSION, SiteContext
from syndicator.feeds.paging import Page
from syndicator.vocabulary import FORMATS, FormatName

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HISTORY_NS = "http://purl.org/syndication/history/1.0"
ARCHIVE_MARK = f'<fh:archive xmlns:fh="{HISTORY_NS}"/>'.encode()


def image_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed or "image/jpeg"


def feed_entry(entry: Entry, site: SiteContext) -> FeedEntry:
    item = entry.item
    fe = FeedEntry()
    fe.id(item.id)
    fe.guid(item.id, permalink=item.id == item.url)
    fe.title(item.title)
    # Only the alternate link goes through feedgen: FeedEntry.atom_entry drops the rel and
    # type of entry links (feedgen 1.0), so the Atom renderer adds the others itself.
    fe.link(href=item.url)
    fe.published(entry.published)
    fe.updated(entry.updated)
    if item.summary_html:
        fe.description(item.summary_html, isSummary=True)
        fe.summary(item.summary_html, type="html")
    if site.full_content and item.content_html:
        fe.content(item.content_html, type="html")
    fe.author(name=item.author or site.author)
    terms = [
        {"term": name_slug(name), "label": name, "scheme": site.scheme(kind)}
        for kind, names in (("category", item.categories), ("tag", item.tags))
        for name in names
    ]
    if terms:
        # One call: each call re-derives the RSS form of every category set so far.
        fe.category(terms)
    return fe


def feed_generator(page: Page, site: SiteContext, fmt: FormatName) -> FeedGenerator:
    """The feed-level part of ``page``; entries are spliced in by the caller."""
    feed = page.feed
    fg = FeedGenerator()
    fg.id(site.url(page.path(fmt, None)))
    fg.title(site.feed_title(feed))
    fg.subtitle(site.feed_description(feed))
    fg.link(href=site.url(page.path(fmt)), rel="self", type=FORMATS[fmt].media_type)
    fg.link(href=site.base_url + "/", rel="alternate", type="text/html")
    fg.language(site.language)
    fg.author(name=site.author)
    fg.generator(GENERATOR, version=VERSION, uri=GENERATOR_URI)
    newest = page.updated or EPOCH
    fg.updated(newest)
    fg.lastBuildDate(newest)
    return fg


def splice(document: bytes, closing: bytes, extra: list[bytes]) -> bytes:
    """``document`` with ``extra`` inserted before its final ``closing`` tag."""
    at = document.rindex(closing)
    return b"".join((document[:at], *extra, document[at:]))


def link_element(tag: str, rel: str, href: str) -> bytes:
    return f"<{tag} rel={quoteattr(rel)} href={quoteattr(href)}/>".encode()
