"""HTML pages for people: the feed directory, a page per category and tag feed, and OPML."""

from syndicator.pages.render import (
    DIRECTORY,
    FEED_PAGE_WEIGHT,
    OPML,
    PageRenderer,
    feed_page_path,
)

__all__ = ["DIRECTORY", "FEED_PAGE_WEIGHT", "OPML", "PageRenderer", "feed_page_path"]
