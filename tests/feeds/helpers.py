"""Reading a built output folder the way a feed reader or an aggregator would."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser

from .reference import Site

BASE_URL = "https://www.numerique.gouv.fr"
# Some corpus documents are dated June and July 2024: they are scheduled at this moment.
NOW = "2024-06-01T00:00:00+02:00"
FILENAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}


@dataclass(frozen=True)
class CorpusBuild:
    name: str
    code: int
    stderr: str
    out: Path
    expected: Site

    def feed_folders(self) -> set[str]:
        """Every feed folder the build wrote ("" for the site), from its atom.xml files."""
        return {
            "" if p.parent == self.out else p.parent.relative_to(self.out).as_posix()
            for p in self.out.rglob("atom.xml")
            if "archive" not in p.relative_to(self.out).parts
        }


@dataclass(frozen=True)
class Page:
    path: Path
    title: str
    links: dict[str, str]
    ids: list[str]
    entries: list[Any]


def local_path(out: Path, url: str, base_url: str = BASE_URL) -> Path:
    assert url.startswith(base_url + "/"), url
    return out / url.removeprefix(base_url + "/")


def feed_path(out: Path, folder: str, fmt: str) -> Path:
    return out / folder / FILENAMES[fmt] if folder else out / FILENAMES[fmt]


@functools.cache
def read_page(path: Path, fmt: str) -> Page:
    """One feed document: its feed-level links by rel, and its entries in document order.

    Cached: the corpus output is written once per session and several tests read each file.
    feedparser's own sanitising and link resolution are off, as they would hide our faults.
    """
    if fmt == "json":
        data = json.loads(path.read_text(encoding="utf-8"))
        links = {"self": data["feed_url"]}
        if "next_url" in data:
            links["prev-archive"] = data["next_url"]
        return Page(path, data["title"], links, [i["id"] for i in data["items"]], data["items"])
    parsed = feedparser.parse(path.read_bytes(), sanitize_html=False, resolve_relative_uris=False)
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    links = {
        link.rel: link.href for link in parsed.feed.get("links", []) if link.rel != "alternate"
    }
    return Page(path, parsed.feed.title, links, [e.id for e in parsed.entries], parsed.entries)


def history(out: Path, folder: str, fmt: str, base_url: str = BASE_URL) -> list[Page]:
    """The subscription document, then every archive reached through ``prev-archive``
    (``next_url`` in JSON Feed), newest to oldest, as an RFC 5005 client walks it."""
    pages = [read_page(feed_path(out, folder, fmt), fmt)]
    seen = {pages[0].path}
    while "prev-archive" in pages[-1].links:
        path = local_path(out, pages[-1].links["prev-archive"], base_url)
        assert path not in seen, f"archive loop at {path}"
        seen.add(path)
        pages.append(read_page(path, fmt))
    return pages
