"""The HTML pages for people: the feed directory and one page per category and tag feed.

Pure: a page is the bytes of a template filled from the catalog; ``syndicator.build`` decides
when to render one and the output writer puts it on disk (unchanged bytes are not rewritten,
so a page changes only when what it shows does). Every link between pages and to feed files
is relative, so the output can be served or moved anywhere; the addresses people copy are
absolute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from urllib.parse import quote

import nh3
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from syndicator.catalog import Entry, FeedSpec, LiveCatalog
from syndicator.config import Config
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import Page, oldest_first_slice, page_path
from syndicator.pages.labels import Labels, ui_language
from syndicator.pages.opml import preferred_format, render_opml
from syndicator.vocabulary import FORMATS

# Written once into the output root; every page links them relatively.
ASSETS = ("feeds.css", "feeds.js")
DIRECTORY = "index.html"
OPML = "feeds.opml"
SECTIONS: tuple[tuple[str, str], ...] = (("category", "categories"), ("tag", "tags"))
# What a feed page costs to render, in readings of a document (``parallel.each_chunk``): its
# cards and template took 2.5 ms against 0.7 ms for a reading, at 5,000 documents, so 211
# pages ran in one process while the other core waited.
FEED_PAGE_WEIGHT = 4


def feed_page_path(feed_path: str) -> str:
    """The page of the feed in ``feed_path`` (the site's page is the directory)."""
    return f"{feed_path}/{DIRECTORY}" if feed_path else DIRECTORY


@dataclass(frozen=True, slots=True)
class FeedPageJob:
    """What a feed page shows beyond the feed's current document: its oldest item's date."""

    page: Page
    oldest: datetime


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    href: str
    url: str
    media_type: str


@dataclass(frozen=True, slots=True)
class Row:
    """A feed as the directory lists it."""

    feed: FeedSpec
    href: str
    updated: datetime | None


def template_files(package: str) -> Environment:
    """The templates in ``package``'s ``templates`` folder: everything escaped unless marked
    safe, a missing value an error, never reloaded."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


class PageRenderer:
    """Fills the templates; built once per renderer, and again in each worker process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.site = SiteContext.from_config(config)
        self.formats = config.feeds.formats
        self.max_items = config.feeds.max_items
        self.readers = dict(config.pages.readers)
        self.labels = Labels(ui_language(config.site.language), config.tz)
        self.api = f"{self.site.base_url}/openapi.json" if config.server.api_token else None
        self.env = template_files("syndicator.pages")
        self.env.globals.update(t=self.labels, site=self.site, content_lang=config.site.language)
        self.env.filters["breakable"] = _breakable
        # Compiled and read now, once (22 ms): the processes forked to render pages inherit
        # them, where each compiled and read its own; ``build`` makes this renderer while the
        # files are read.
        for name in self.env.list_templates():
            self.env.get_template(name)
        self.labels.load()
        # Each item is on the page of each of its feeds (four or five): its card is made once.
        self._cards = lru_cache(maxsize=16384)(self._render_card)

    def __reduce__(self) -> tuple[type[PageRenderer], tuple[Config]]:
        """Sent to worker processes as its configuration (a Jinja environment does not
        pickle); the worker builds its own."""
        return (PageRenderer, (self.config,))

    def feed_page_jobs(
        self, pages: Iterable[Page], catalog: LiveCatalog
    ) -> list[tuple[str, FeedPageJob]]:
        """A job for each category or tag feed whose current document is among ``pages``."""
        return [
            (feed_page_path(page.feed.path), FeedPageJob(page, catalog.order(page.feed.path)[0][0]))
            for page in pages
            if page.number is None and page.feed.kind != "site"
        ]

    def render_feed_page(self, job: FeedPageJob) -> bytes:
        feed = job.page.feed
        return self._render(
            "feed.html",
            root="../" * (feed.path.count("/") + 1),
            title=self.site.feed_title(feed),
            feed=feed,
            follow=self._follow(feed),
            alternates=self._addresses(feed),
            cards=[self._card(entry) for entry in job.page.entries],
            updated=job.page.updated,
            oldest=job.oldest,
        )

    def _card(self, entry: Entry) -> Markup:
        item = entry.item
        return self._cards(item.image, item.url, item.title, entry.published, item.summary_html)

    def _render_card(
        self, image: str | None, url: str, title: str, published: datetime, summary_html: str
    ) -> Markup:
        """An item's card: the same on the page of each of its feeds, so made once (keyed by
        what it shows, which holds no body)."""
        card = self.env.get_template("_macros.html").module.card  # type: ignore[attr-defined]
        return Markup(card(image, url, title, published, _text(summary_html)))

    def directory(self, catalog: LiveCatalog) -> bytes:
        """``index.html``: every feed, named, counted and dated."""
        feeds = catalog.feeds
        site = feeds[0]
        rows = {
            kind: [
                Row(feed, f"{feed.path}/", self._updated(catalog, feed))
                for feed in feeds
                if feed.kind == kind
            ]
            for kind, _ in SECTIONS
        }
        return self._render(
            "directory.html",
            root="./",
            title=self.labels("directory_title", site=self.site.title),
            feed=site,
            follow=self._follow(site),
            alternates=self._addresses(site),
            updated=self._updated(catalog, site),
            sections=[(name, rows[kind]) for kind, name in SECTIONS],
            opml=OPML,
        )

    def opml(self, feeds: Sequence[FeedSpec]) -> bytes:
        return render_opml(feeds, self.formats, self.site)

    def assets(self) -> dict[str, bytes]:
        folder = files("syndicator.pages") / "static"
        return {name: (folder / name).read_bytes() for name in ASSETS}

    def paths(self, feeds: Sequence[FeedSpec]) -> set[str]:
        """Every file the pages put in the output, for pruning what an older build left."""
        return {DIRECTORY, OPML, *ASSETS, *(feed_page_path(f.path) for f in feeds if f.path)}

    def _render(self, template: str, **context: object) -> bytes:
        return self.env.get_template(template).render(**context).encode()

    def _updated(self, catalog: LiveCatalog, feed: FeedSpec) -> datetime | None:
        """When the feed's current document last changed (as its Atom ``updated`` says)."""
        current = catalog.order(feed.path)[oldest_first_slice(feed.size, None, self.max_items)]
        return max((catalog.entries[key].updated for _, key in current), default=None)

    def _addresses(self, feed: FeedSpec) -> list[Address]:
        """The feed's documents: a link relative to its page, and the address to subscribe to."""
        return [
            Address(
                FORMATS[fmt].label,
                FORMATS[fmt].filename,
                self.site.url(page_path(feed.path, None, fmt)),
                FORMATS[fmt].media_type,
            )
            for fmt in self.formats
        ]

    def _follow(self, feed: FeedSpec) -> Mapping[str, object]:
        """How to follow ``feed``: its addresses, reader links, the hub and the webhook API."""
        addresses = self._addresses(feed)
        url = self.site.url(page_path(feed.path, None, preferred_format(self.formats)))
        readers: list[tuple[str, str]] = [(self.labels("reader_app"), f"feed:{url}")]
        readers += [
            (name, pattern.replace("{url}", quote(url, safe="")))
            for name, pattern in self.readers.items()
        ]
        return {
            "addresses": addresses,
            "readers": readers,
            "hub": self.site.hub_url,
            "api": self.api,
        }


def _breakable(url: str) -> Markup:
    """A long address that a narrow screen may wrap after each slash, not inside a word."""
    scheme, separator, rest = url.rpartition("://")
    return escape(scheme + separator) + Markup("/<wbr>").join(rest.split("/"))


def _text(html: str) -> Markup:
    """A summary without its markup: a card's only link is its title. Once per card, which
    is cached (``PageRenderer._render_card``)."""
    return Markup(nh3.clean(html, tags=set()))
