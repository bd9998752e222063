"""Config keys (config/syndicator.toml) each seen changing the output of ``syndicator build``
or the behaviour of ``syndicator run``: read back from the files and by real feed parsers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import feedparser
import httpx

from .conftest import Site, wait_until

FEED_FILES = ("rss.xml", "atom.xml", "feed.json")


def _build(on: Site, **sections: dict[str, object]) -> Path:
    on.configure(**sections)
    on.write("a.md", "A", categories="[News]", tags="[Paris]", excerpt="The summary of A.")
    built = on.cli("build")
    assert built.code == 0, built.stderr
    return on.out


def _feeds(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.name in FEED_FILES)


def test_feeds_formats_limits_the_files_and_the_links(site: Site):
    out = _build(site, feeds={"formats": ["atom"]})
    feeds = _feeds(out)
    assert {p.name for p in feeds} == {"atom.xml"}
    assert {p.parent.relative_to(out).as_posix() for p in feeds} == {
        ".",
        "categories/news",
        "tags/paris",
    }
    index = (out / "index.html").read_text()
    assert "atom.xml" in index and "rss.xml" not in index and "feed.json" not in index
    assert "rss.xml" not in (out / "feeds.opml").read_text()


def test_full_content_false_leaves_only_the_summary(site: Site):
    out = _build(site, feeds={"full_content": False})
    atom = feedparser.parse((out / "atom.xml").read_bytes()).entries[0]
    assert "content" not in atom
    assert "The summary of A." in atom.summary
    rss = (out / "rss.xml").read_text()
    assert "content:encoded" not in rss and "Text of A." not in rss
    [item] = json.loads((out / "feed.json").read_bytes())["items"]
    assert "Text of A." not in item["content_html"]
    assert "The summary of A." in item["content_html"]


def test_full_content_true_carries_the_text(site: Site):
    out = _build(site, feeds={"full_content": True})
    assert (
        "Text of A."
        in feedparser.parse((out / "atom.xml").read_bytes()).entries[0].content[0].value
    )
    assert "Text of A." in json.loads((out / "feed.json").read_bytes())["items"][0]["content_html"]


def test_site_language_is_each_feeds_language(site: Site):
    out = _build(site, site={"base_url": "https://example.org", "language": "en-GB"})
    assert feedparser.parse((out / "rss.xml").read_bytes()).feed.language == "en-GB"
    assert 'xml:lang="en-GB"' in (out / "atom.xml").read_text()
    assert json.loads((out / "feed.json").read_bytes())["language"] == "en-GB"
    assert 'lang="en-GB"' in (out / "index.html").read_text()


def _hubs(out: Path) -> dict[str, list[str]]:
    """The hub links each feed document of the site carries."""
    atom = feedparser.parse((out / "atom.xml").read_bytes()).feed.get("links", [])
    rss = feedparser.parse((out / "rss.xml").read_bytes()).feed.get("links", [])
    json_feed = json.loads((out / "feed.json").read_bytes())
    return {
        "atom": [link.href for link in atom if link.rel == "hub"],
        "rss": [link.href for link in rss if link.rel == "hub"],
        "json": [hub["url"] for hub in json_feed.get("hubs", [])],
    }


def test_websub_hub_url_is_the_hub_every_feed_names(site: Site):
    out = _build(site, websub={"hub_url": "https://hub.example.net/websub"})
    assert _hubs(out) == {k: ["https://hub.example.net/websub"] for k in ("atom", "rss", "json")}


def test_by_default_the_hub_is_the_sites_own(site: Site):
    out = _build(site)
    assert _hubs(out) == {k: ["https://example.org/hub"] for k in ("atom", "rss", "json")}


def test_websub_disabled_leaves_no_hub_in_documents_nor_headers(site: Site):
    out = _build(site, websub={"enabled": False})
    assert _hubs(out) == {"atom": [], "rss": [], "json": []}
    for feed in _feeds(out):
        assert b"/hub" not in feed.read_bytes(), feed
    site.run("--role", "web")
    served = httpx.get(f"{site.served_at()}/rss.xml", timeout=120)
    assert served.status_code == 200
    assert 'rel="hub"' not in served.headers.get("link", "")
    assert httpx.post(f"{site.served_at()}/hub", data={}, timeout=120).status_code in (
        404,
        405,
    )  # no hub


def _has(site: Site, title: str) -> bool:
    feed = site.out / "rss.xml"
    return feed.exists() and f"<title>{title}</title>".encode() in feed.read_bytes()


def test_schedule_watch_false_waits_for_the_periodic_scan(site: Site):
    # Timed from a periodic scan seen to happen, not from the start: a cold start under load
    # can outlast the interval (the start used to be counted, and a worker that watched anyway
    # passed). B is written just after the scan that built A, so only the next tick, an
    # interval later, builds it; a watcher would build it at once. A lower bound only: load
    # can make it longer, never shorter.
    interval = 12
    site.configure(schedule={"scan_interval_seconds": interval, "watch": False})
    site.run()
    site.write("a.md", "A")
    wait_until(lambda: _has(site, "A"), what="a periodic scan")
    written = time.monotonic()
    site.write("b.md", "B")
    wait_until(lambda: _has(site, "B"), what="the next periodic scan")
    assert time.monotonic() - written >= interval / 2
