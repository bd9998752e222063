"""Rendering stage of the engine: the catalog to the output folder, redoing what a ``Delta``
names. The feed renderers it calls are pure; the disk is touched by the writer only."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path

from syndicator.catalog import Delta, Entry, LiveCatalog
from syndicator.config import Config
from syndicator.engine.fragments import Fragments
from syndicator.feeds.context import SiteContext
from syndicator.feeds.paging import (
    Page,
    archive_count,
    oldest_first_slice,
    page_path,
    pages_holding,
)
from syndicator.feeds.renderers import RENDERERS
from syndicator.output.writer import OutputWriter, WriteReport
from syndicator.pages import DIRECTORY, FEED_PAGE_WEIGHT, OPML, PageRenderer, feed_page_path
from syndicator.parallel import ROUND_ITEMS, each_chunk, shared
from syndicator.progress import silent
from syndicator.vocabulary import FormatName

ProgressFn = Callable[[str, int, int], None]


def render_fragments(
    entries: Sequence[Entry],
    fmt: FormatName,
    site: SiteContext,
    into: Fragments,
    progress: ProgressFn = silent,
) -> None:
    """Each entry rendered once in ``fmt`` into ``into``, for reuse in every page."""
    keys = (entry.item.key for entry in entries)
    for part in each_chunk(
        _render_chunk,
        range(len(entries)),
        shared=(entries, fmt, site),
        progress=lambda done, total: progress(f"rendering {fmt}", done, total),
    ):
        for data in part:
            into.add(next(keys), data)


def _render_chunk(indexes: Sequence[int]) -> list[bytes]:
    entries, fmt, site = shared()
    render = RENDERERS[fmt].render_entry
    return [render(entries[i], site) for i in indexes]


def _page_document(
    page: Page, *, fmt: FormatName, fragments: Fragments, site: SiteContext
) -> bytes:
    return RENDERERS[fmt].render_document(page, [fragments[e.item.key] for e in page.entries], site)


PageNumber = int | None
# Entries kept between renders besides those of current pages, in each format (3.5 KB each).
RECENT = 20_000


class SiteRenderer:
    """Renders the catalog into the output folder, redoing only what a ``Delta`` names.

    The first render writes every page (and prunes files an earlier run left behind); later
    ones write only the pages holding an item that changed, and the pages after a position
    where an item came, went or moved. Each entry is rendered once per format and reused by
    every page that holds it. Between renders (``keep_cache``) the entries of the feeds'
    current pages are kept, the pages every new item changes, and the ``RECENT`` entries
    rendered last (a whole site of up to that many documents): all of them took 1 GB at
    100,000 documents. An edit deep in the archives of a larger site re-renders the entries of
    the pages holding it (50 a page). ``keep_cache`` False frees a format's entries once
    written.
    """

    def __init__(self, config: Config, output: Path, *, keep_cache: bool = True) -> None:
        self.site = SiteContext.from_config(config)
        self.formats = config.feeds.formats
        self.max_items = config.feeds.max_items
        self.archives = config.feeds.archives
        self.keep_cache = keep_cache
        self.writer = OutputWriter(output)
        self.pages = PageRenderer(config)
        self._fragments = {f: Fragments(spill_to=output) for f in self.formats}
        self._archives: dict[str, int] | None = None

    def start(
        self, catalog: LiveCatalog, delta: Delta, progress: ProgressFn = silent
    ) -> Callable[[], WriteReport]:
        """Render every page the ``Delta`` names, returning once the pages for people, the last
        stage, are with the workers (below ``ROUND_ITEMS`` items; done, above): the call
        returned waits for them and gives the report.
        Meanwhile the engine writes the scan's rows in the store, and it commits them only
        after that call, so the store is never ahead of the output. Until then this process
        runs the pool's threads: a stage started meanwhile could not fork its workers."""
        self.writer.begin()
        first = self._archives is None
        archives = self._archives if self._archives is not None else {}
        plan = self._plan(catalog, delta, archives, first)
        for cache in self._fragments.values():
            for key in delta.keys:
                cache.discard(key)
        pages = self._pages(catalog, plan)
        current = self._current_keys(catalog) if self.keep_cache else set()
        for fmt in self.formats:
            self._render_format(pages, fmt, current, progress)
        pages_written = self.writer.write_rendered(
            self.pages.feed_page_jobs(pages, catalog),
            self.pages.render_feed_page,
            weight=FEED_PAGE_WEIGHT,
        )
        # Workers forked from this process keep its pages shared until they end, and writing
        # the store touches every item: on a large site each page of them would be copied
        # while the workers live (1,180 MiB of peak PSS at 100,000 documents, against 897).
        beside_the_store = len(catalog.entries) < ROUND_ITEMS
        if not beside_the_store:
            pages_written()
        for path in plan:
            feed = catalog.feed(path)
            size = feed.size if feed else 0
            old = archives.get(path, 0)
            new = self._archive_count(size)
            gone: list[PageNumber] = [n for n in range(new + 1, old + 1)]
            if feed is None:
                gone.append(None)
                archives.pop(path, None)
                self.writer.remove(feed_page_path(path))
            else:
                archives[path] = new
            for number in gone:
                for fmt in self.formats:
                    self.writer.remove(page_path(path, number, fmt))
        if first or delta.listing:
            self.writer.write(OPML, self.pages.opml(catalog.feeds))
        # The directory also shows each feed's last update, which an edit in place changes.
        if first or delta.feeds:
            self.writer.write(DIRECTORY, self.pages.directory(catalog))
        if first:
            for relative, data in self.pages.assets().items():
                self.writer.write(relative, data)
            self.writer.prune(self._all_paths(catalog, archives))
        self._archives = archives

        def finish() -> WriteReport:
            if beside_the_store:
                pages_written()
            return self.writer.finish()

        return finish

    def _plan(
        self, catalog: LiveCatalog, delta: Delta, archives: Mapping[str, int], first: bool
    ) -> dict[str, set[PageNumber]]:
        """Feed path → the page numbers to render (None: the current page)."""
        paths = {spec.path for spec in catalog.feeds} if first else delta.feeds
        plan: dict[str, set[PageNumber]] = {}
        for path in paths:
            feed = catalog.feed(path)
            if feed is None:
                plan[path] = set()
                continue
            size, new = feed.size, self._archive_count(feed.size)
            numbers: set[PageNumber] = set()
            if first or path in delta.shifted:
                start = 0 if first else delta.shifted[path] // self.max_items + 1
                old = archives.get(path, new)
                if old != new:
                    start = min(start, max(1, min(old, new)))
                numbers.add(None)
                numbers.update(range(max(1, start), new + 1))
            order = catalog.order(path)
            for position in delta.touched.get(path, ()):
                index = bisect.bisect_left(order, position)
                held = pages_holding(index, size, self.max_items)
                numbers.update(n for n in held if n is None or self.archives)
            plan[path] = numbers
        return plan

    def _pages(self, catalog: LiveCatalog, plan: Mapping[str, set[PageNumber]]) -> list[Page]:
        """The pages of the plan with their entries (the same in every format)."""
        pages: list[Page] = []
        for path, numbers in plan.items():
            feed = catalog.feed(path)
            if feed is None:
                continue
            order = catalog.order(path)
            count = self._archive_count(feed.size)
            for number in numbers:
                keys = order[oldest_first_slice(feed.size, number, self.max_items)]
                entries = tuple(catalog.entries[key] for _, key in reversed(keys))
                pages.append(Page(feed, number, count, entries))
        return pages

    def _render_format(
        self, pages: Sequence[Page], fmt: FormatName, keep: Collection[str], progress: ProgressFn
    ) -> None:
        cache = self._fragments[fmt]
        needed = {e.item.key: e for page in pages for e in page.entries if e.item.key not in cache}
        render_fragments(list(needed.values()), fmt, self.site, cache, progress)
        written = self.writer.write_rendered(
            [(page.path(fmt), page) for page in pages],
            partial(_page_document, fmt=fmt, fragments=cache, site=self.site),
            lambda done, total: progress(f"writing {fmt}", done, total),
        )
        written()
        cache.keep(keep, RECENT if self.keep_cache else 0)

    def _current_keys(self, catalog: LiveCatalog) -> set[str]:
        """The items on the current page of some feed."""
        return {
            key for spec in catalog.feeds for _, key in catalog.order(spec.path)[-self.max_items :]
        }

    def _archive_count(self, size: int) -> int:
        """Archive pages of a feed of ``size`` items; none when ``feeds.archives`` is off, so
        no page is written and no page links one."""
        return archive_count(size, self.max_items) if self.archives else 0

    def _all_paths(self, catalog: LiveCatalog, archives: Mapping[str, int]) -> set[str]:
        paths = self.pages.paths(catalog.feeds)
        for spec in catalog.feeds:
            for number in (None, *range(1, archives.get(spec.path, 0) + 1)):
                paths.update(page_path(spec.path, number, fmt) for fmt in self.formats)
        return paths
