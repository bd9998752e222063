"""The build pipeline: scan → read → catalog → render → write (DESIGN.md §2), in one direction.

Side effects (disk, clock, store) enter here as arguments; the stages it calls are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

from syndicator.catalog import Catalog, Entry, FeedSpec, build_catalog
from syndicator.config import Config
from syndicator.content.items import Problem, ReadResult, read_source
from syndicator.content.scan import Source, scan
from syndicator.feeds import atom, jsonfeed, rss
from syndicator.feeds.context import SiteContext
from syndicator.feeds.pages import render_index, render_opml
from syndicator.feeds.paging import pages
from syndicator.output.writer import OutputWriter, WriteReport
from syndicator.parallel import map_chunks, shared
from syndicator.progress import silent

ProgressFn = Callable[[str, int, int], None]
RENDERERS: dict[str, ModuleType] = {"rss": rss, "atom": atom, "json": jsonfeed}


@dataclass(frozen=True)
class BuildResult:
    catalog: Catalog
    results: tuple[ReadResult, ...]
    report: WriteReport

    @property
    def problems(self) -> list[Problem]:
        found = [p for r in self.results for p in r.problems]
        return found + list(self.catalog.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def documents(self) -> int:
        return sum(1 for r in self.results if r.is_document)


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


def catalog_of(
    results: Iterable[ReadResult],
    *,
    now: datetime,
    first_seen: Mapping[str, datetime],
    updated_at: Mapping[str, datetime] | None = None,
) -> Catalog:
    items = [r.item for r in results if r.item is not None]
    return build_catalog(items, now=now, first_seen=first_seen, updated_at=updated_at)


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


def render_pages(
    feeds: Sequence[FeedSpec],
    fmt: str,
    fragments: Mapping[str, bytes],
    site: SiteContext,
    max_items: int,
) -> Iterable[tuple[str, bytes]]:
    """(relative path, bytes) of every document of every feed in ``fmt``."""
    renderer = RENDERERS[fmt]
    for feed in feeds:
        for page in pages(feed, max_items):
            body = [fragments[e.item.key] for e in page.entries]
            yield page.path(fmt), renderer.render_document(page, body, site)


def write_site(
    catalog: Catalog, config: Config, output: Path, progress: ProgressFn = silent
) -> WriteReport:
    """Every feed in every format, plus the index and OPML; one format in memory at a time."""
    site = SiteContext.from_config(config)
    formats = config.feeds.formats
    writer = OutputWriter(output)
    for fmt in formats:
        fragments = render_fragments(catalog.entries, fmt, site, progress)
        for path, data in render_pages(catalog.feeds, fmt, fragments, site, config.feeds.max_items):
            writer.write(path, data)
        del fragments
    writer.write("index.html", render_index(catalog.feeds, formats, site))
    writer.write("feeds.opml", render_opml(catalog.feeds, formats, site))
    return writer.finish()


def build(
    config: Config,
    *,
    now: datetime,
    first_seen: Mapping[str, datetime],
    progress: ProgressFn = silent,
) -> BuildResult:
    """A full, stateless build of the output folder."""
    results = read_sources(scan(content_dirs(config)), config, progress)
    catalog = catalog_of(results, now=now, first_seen=first_seen)
    report = write_site(catalog, config, Path(config.output.dir), progress)
    return BuildResult(catalog, tuple(results), report)
