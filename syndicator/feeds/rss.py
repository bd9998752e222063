"""RSS 2.0 documents, with atom:link self/hub/archive links."""

from __future__ import annotations

from lxml import etree

from syndicator.catalog import Entry
from syndicator.feeds.context import SiteContext
from syndicator.feeds.feedgen_entries import (
    ARCHIVE_MARK,
    feed_entry,
    feed_generator,
    image_type,
    link_element,
    splice,
)
from syndicator.feeds.paging import Page

_CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
etree.register_namespace("content", _CONTENT_NS)
# A lone serialised <item> re-declares the namespace that the <rss> root already declares;
# matching the whole start tag means no text inside an article can be touched.
_DECLARED = f'<content:encoded xmlns:content="{_CONTENT_NS}">'.encode()


def render_entry(entry: Entry, site: SiteContext) -> bytes:
    fe = feed_entry(entry, site)
    if entry.item.image:
        fe.enclosure(entry.item.image, "0", image_type(entry.item.image))
    data = etree.tostring(fe.rss_entry(), encoding="utf-8")
    return data.replace(_DECLARED, b"<content:encoded>", 1)


def render_document(page: Page, fragments: list[bytes], site: SiteContext) -> bytes:
    fg = feed_generator(page, site, "rss")
    fg.description(site.feed_description(page.feed))
    fg.link(href=site.base_url + "/", rel="alternate")
    head = fg.rss_str(pretty=False)
    extra: list[bytes] = []
    if site.hub_url:
        extra.append(link_element("atom:link", "hub", site.hub_url))
    extra.extend(
        link_element("atom:link", rel, href) for rel, href in site.archive_links(page, "rss")
    )
    if page.number is not None:
        extra.append(ARCHIVE_MARK)
    return splice(head, b"</channel>", [*extra, *fragments])
