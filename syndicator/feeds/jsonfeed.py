"""JSON Feed 1.1 documents; the item form is also the ``data`` of webhook notifications."""

from __future__ import annotations

from typing import Any

import orjson

from syndicator.catalog import Entry
from syndicator.content.items import Item, unshared
from syndicator.content.markup import plain_text
from syndicator.content.slugs import name_slug
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import Page

VERSION_URL = "https://jsonfeed.org/version/1.1"


def json_item(entry: Entry, site: SiteContext, *, extension: bool = False) -> dict[str, Any]:
    """The JSON Feed item; ``extension`` adds ``_syndicator`` with category and tag slugs."""
    item = entry.item
    data: dict[str, Any] = {"id": item.id, "url": item.url}
    if item.external_url:
        data["external_url"] = item.external_url
    data["title"] = unshared(item.title)
    content = item.content_html if site.full_content else ""
    data["content_html"] = unshared(content or item.summary_html or item.title)
    summary = plain_text(item.summary_html)
    if summary:
        data["summary"] = summary
    if item.image:
        data["image"] = item.image
    data["date_published"] = entry.published.isoformat()
    data["date_modified"] = entry.updated.isoformat()
    data["authors"] = [{"name": item.author or site.author}]
    tags = list(dict.fromkeys((*item.categories, *item.tags)))
    if tags:
        data["tags"] = tags
    if extension:
        category_slugs, tag_slugs = filter_slugs(item)
        data["_syndicator"] = {"categories": list(category_slugs), "tags": list(tag_slugs)}
    return data


def filter_slugs(item: Item) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The category and tag slugs that webhook subscriptions filter on (``_syndicator``)."""
    return tuple(name_slug(c) for c in item.categories), tuple(name_slug(t) for t in item.tags)


def render_entry(entry: Entry, site: SiteContext) -> bytes:
    return orjson.dumps(json_item(entry, site))


def render_document(page: Page, fragments: list[bytes], site: SiteContext) -> bytes:
    feed = page.feed
    head: dict[str, Any] = {
        "version": VERSION_URL,
        "title": site.feed_title(feed),
        "home_page_url": site.base_url + "/",
        "feed_url": site.url(page.path("json")),
        "description": site.feed_description(feed),
        "language": site.language,
        "authors": [{"name": site.author}],
    }
    if site.hub_url:
        head["hubs"] = [{"type": "WebSub", "url": site.hub_url}]
    older = page.archives if page.number is None else (page.number or 0) - 1
    if older > 0:
        head["next_url"] = site.url(page.path("json", older))
    head["items"] = []
    prefix = orjson.dumps(head)[: -len(b"[]}")]
    return b"".join((prefix, b"[", b",".join(fragments), b"]}\n"))
