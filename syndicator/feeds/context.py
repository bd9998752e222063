"""What every feed renderer needs to know about the site, computed once per build."""

from __future__ import annotations

from dataclasses import dataclass

from syndicator import __version__
from syndicator.catalog import FeedSpec
from syndicator.config import Config
from syndicator.feeds.paging import Page
from syndicator.vocabulary import FormatName

GENERATOR = "syndicator"
GENERATOR_URI = "https://pypi.org/project/syndicator/"
VERSION = __version__


@dataclass(frozen=True, slots=True)
class SiteContext:
    base_url: str
    title: str
    description: str
    language: str
    author: str
    hub_url: str | None
    full_content: bool

    @classmethod
    def from_config(cls, config: Config) -> SiteContext:
        return cls(
            base_url=config.base_url,
            title=config.site.title,
            description=config.site.description or config.site.title,
            language=config.site.language,
            author=config.site.author or config.site.title,
            hub_url=config.hub_url,
            full_content=config.feeds.full_content,
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def feed_title(self, feed: FeedSpec) -> str:
        return self.title if feed.kind == "site" else f"{self.title} – {feed.name}"

    def feed_description(self, feed: FeedSpec) -> str:
        if feed.kind == "site":
            return self.description
        what = "Category" if feed.kind == "category" else "Tag"
        return f"{what} “{feed.name}” — {self.description}"

    def scheme(self, kind: str) -> str:
        """Atom category scheme / RSS domain: where the category's or tag's feeds live."""
        return self.url("categories/" if kind == "category" else "tags/")

    def archive_links(self, page: Page, fmt: FormatName) -> list[tuple[str, str]]:
        """RFC 5005 (rel, href) pairs for ``page``."""
        links: list[tuple[str, str]] = []
        if page.number is None:
            if page.archives:
                links.append(("prev-archive", self.url(page.path(fmt, page.archives))))
            return links
        links.append(("current", self.url(page.path(fmt, None))))
        if page.number > 1:
            links.append(("prev-archive", self.url(page.path(fmt, page.number - 1))))
        if page.number < page.archives:
            links.append(("next-archive", self.url(page.path(fmt, page.number + 1))))
        return links
