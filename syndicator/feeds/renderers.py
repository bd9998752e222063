"""The renderer of each format named in ``vocabulary.FORMATS`` (a test checks none is missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syndicator.catalog import Entry
from syndicator.feeds import atom, jsonfeed, rss
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import Page
from syndicator.vocabulary import FormatName


@dataclass(frozen=True, slots=True)
class Renderer:
    """An entry is rendered once, then the fragment is reused by every page that holds it."""

    render_entry: Callable[[Entry, SiteContext], bytes]
    render_document: Callable[[Page, list[bytes], SiteContext], bytes]


RENDERERS: dict[FormatName, Renderer] = {
    "rss": Renderer(rss.render_entry, rss.render_document),
    "atom": Renderer(atom.render_entry, atom.render_document),
    "json": Renderer(jsonfeed.render_entry, jsonfeed.render_document),
}
