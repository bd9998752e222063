"""Reading every document and rendering the catalog to the output folder.

The stages these call are pure; the disk is touched here and in the writer only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from syndicator.catalog import Catalog, Entry
from syndicator.config import Config
from syndicator.content.items import ReadResult, read_source
from syndicator.content.scan import Source
from syndicator.feeds import atom, jsonfeed, rss
from syndicator.feeds.context import SiteContext
from syndicator.feeds.pages import render_index, render_opml
from syndicator.feeds.paging import pages
from syndicator.output.writer import OutputWriter, WriteReport
from syndicator.parallel import map_chunks, shared
from syndicator.progress import silent

ProgressFn = Callable[[str, int, int], None]
RENDERERS: dict[str, ModuleType] = {"rss": rss, "atom": atom, "json": jsonfeed}


def content_dirs(config: Config) -> list[Path]:
    return [Path(d) for d in config.content.dirs]


def read_sources(
    sources: Sequence[Source], config: Config, progress: ProgressFn = silent
) -> list[ReadResult]:
    """Read every source, on all cores when there are many."""
    return map_chunks(
        _read_chunk,
        sources,
        shared=config,
        progress=lambda done, total: progress("reading", done, total),
    )


def _read_chunk(sources: Sequence[Source]) -> list[ReadResult]:
    config: Config = shared()
    return [read_source(source, config) for source in sources]


def render_fragments(
    entries: Sequence[Entry], fmt: str, site: SiteContext, progress: ProgressFn = silent
) -> dict[str, bytes]:
    """Each entry rendered once in ``fmt``, keyed by item key, for reuse in every page."""
    rendered = map_chunks(
        _render_chunk,
        range(len(entries)),
        shared=(entries, fmt, site),
        progress=lambda done, total: progress(f"rendering {fmt}", done, total),
    )
    return {entry.item.key: data for entry, data in zip(entries, rendered, strict=True)}


def _render_chunk(indexes: Sequence[int]) -> list[bytes]:
    entries, fmt, site = shared()
    render = RENDERERS[fmt].render_entry
    return [render(entries[i], site) for i in indexes]


Signature = tuple[object, ...]


class SiteRenderer:
    """Renders the catalog into the output folder, redoing only what changed since last time.

    An entry is rendered once per format and reused by every page that holds it; a page whose
    entries (key, version, dates) are those it was last written with is not rendered again.
    ``keep_cache`` False frees each format's entries once written (one-shot builds).
    """

    def __init__(self, config: Config, output: Path, *, keep_cache: bool = True) -> None:
        self.site = SiteContext.from_config(config)
        self.formats = config.feeds.formats
        self.max_items = config.feeds.max_items
        self.output = output
        self.keep_cache = keep_cache
        self._fragments: dict[str, dict[str, tuple[Signature, bytes]]] = {
            f: {} for f in self.formats
        }
        self._pages: dict[str, Signature] = {}

    def render(
        self, catalog: Catalog, versions: Mapping[str, str], progress: ProgressFn = silent
    ) -> WriteReport:
        signatures = {
            e.item.key: (e.item.key, versions[e.item.key], e.published, e.updated)
            for e in catalog.entries
        }
        writer = OutputWriter(self.output)
        for fmt in self.formats:
            fragments = self._fresh_fragments(catalog.entries, fmt, signatures, progress)
            for feed in catalog.feeds:
                for page in pages(feed, self.max_items):
                    path = page.path(fmt)
                    signature = (
                        feed.name,
                        page.archives,
                        *(signatures[e.item.key] for e in page.entries),
                    )
                    if self._pages.get(path) == signature and writer.keep(path):
                        continue
                    body = [fragments[e.item.key] for e in page.entries]
                    writer.write(path, RENDERERS[fmt].render_document(page, body, self.site))
                    self._pages[path] = signature
            if not self.keep_cache:
                self._fragments[fmt].clear()
        writer.write("index.html", render_index(catalog.feeds, self.formats, self.site))
        writer.write("feeds.opml", render_opml(catalog.feeds, self.formats, self.site))
        return writer.finish()

    def _fresh_fragments(
        self,
        entries: Sequence[Entry],
        fmt: str,
        signatures: Mapping[str, Signature],
        progress: ProgressFn,
    ) -> dict[str, bytes]:
        cache = self._fragments[fmt]
        for key in cache.keys() - signatures.keys():
            del cache[key]
        stale = [
            e
            for e in entries
            if (c := cache.get(e.item.key)) is None or c[0] != signatures[e.item.key]
        ]
        for key, data in render_fragments(stale, fmt, self.site, progress).items():
            cache[key] = (signatures[key], data)
        return {key: data for key, (_, data) in cache.items()}
