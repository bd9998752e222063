"""Rendering a JSON Feed entry (or a webhook payload) leaves the item's strings as they were.

orjson keeps the UTF-8 form of each non-ASCII string it encodes for the string's life: were
the item's body encoded as is, every process rendering or announcing items would hold a
second copy of every body (2 to 5 KB an item).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import orjson

from syndicator.catalog import Entry
from syndicator.config import Config, with_overrides
from syndicator.content.items import Item
from syndicator.feeds.context import SiteContext
from syndicator.feeds.jsonfeed import json_item, render_entry


def test_a_json_entry_keeps_no_utf8_copy_of_the_body():
    body = "<p>Données ouvertes, l’État et les usagers…</p>" * 40
    item = Item(
        key="_posts/a.md",
        id="https://example.org/a/",
        url="https://example.org/a/",
        title="Été",
        date=datetime(2024, 1, 2, tzinfo=UTC),
        draft=False,
        categories=("Numérique",),
        tags=(),
        summary_html="<p>Résumé</p>",
        content_html=body,
        image=None,
        author="",
        external_url=None,
    )
    size = sys.getsizeof(item.content_html)
    site = SiteContext.from_config(
        with_overrides(Config(), site={"base_url": "https://example.org"})
    )
    entry = Entry(item, item.date, item.date)

    rendered = orjson.loads(render_entry(entry, site))
    payload = orjson.dumps(json_item(entry, site, extension=True))

    assert rendered["content_html"] == body and orjson.loads(payload)["content_html"] == body
    assert sys.getsizeof(item.content_html) == size
