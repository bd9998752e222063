"""Atom 1.0 (RFC 4287) documents, with RFC 5005 archive links and the WebSub hub."""

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


def render_entry(entry: Entry, site: SiteContext) -> bytes:
    element = feed_entry(entry, site).atom_entry()
    item = entry.item
    if item.external_url:
        etree.SubElement(element, "link", rel="related", href=item.external_url)
    if item.image:
        etree.SubElement(
            element, "link", rel="enclosure", type=image_type(item.image), href=item.image
        )
    return etree.tostring(element, encoding="utf-8")


def render_document(page: Page, fragments: list[bytes], site: SiteContext) -> bytes:
    fg = feed_generator(page, site, "atom")
    head = fg.atom_str(pretty=False)
    extra: list[bytes] = []
    if site.hub_url:
        extra.append(link_element("link", "hub", site.hub_url))
    extra.extend(link_element("link", rel, href) for rel, href in site.archive_links(page, "atom"))
    if page.number is not None:
        extra.append(ARCHIVE_MARK)
    return splice(head, b"</feed>", [*extra, *fragments])
