"""``feeds.max_items`` and RFC 5005 archives on a small site, where every page can be named."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import history, read_page

BASE_URL = "https://example.org"


@pytest.fixture
def build(tmp_path: Path, write_doc, run_cli):
    """Build ``count`` documents (one a day, all tagged ``t``) with ``max_items = 2``."""
    content = tmp_path / "_news"

    def run(count: int, archives: bool = True) -> Path:
        settings = f"[feeds]\nmax_items = 2\narchives = {str(archives).lower()}\n"
        (tmp_path / "paging.toml").write_text(settings, encoding="utf-8")
        for n in range(1, count + 1):
            text = f"---\ntitle: Day {n}\ndate: 2024-01-{n:02d}\ntags: [t]\n---\nDay {n}.\n"
            write_doc(content, f"day-{n}.md", text)
        out = tmp_path / "out"
        args = ["build", "--config", "paging.toml", "--content", content, "--output", out]
        result = run_cli(*args, "--base-url", BASE_URL, "--now", "2025-01-01", cwd=tmp_path)
        assert result.code == 0, result.stderr
        return out

    return run


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_the_feed_holds_max_items_and_archives_hold_the_rest(build, fmt: str):
    out = build(5)
    for folder in ("", "tags/t"):
        pages = history(out, folder, fmt, BASE_URL)
        titles = [[e["title"] if fmt == "json" else e.title for e in p.entries] for p in pages]
        assert titles[0] == ["Day 5", "Day 4"]
        assert all(len(page) <= 2 and page == sorted(page, reverse=True) for page in titles)
        assert {t for page in titles for t in page} == {f"Day {n}" for n in range(1, 6)}
        assert titles[-1] == ["Day 2", "Day 1"]


def test_a_new_item_leaves_existing_archives_untouched(build):
    out = build(5)
    archives = {p: p.read_bytes() for p in out.rglob("archive/*/*")}
    assert archives
    build(6)
    assert {p: p.read_bytes() for p in out.rglob("archive/*/*") if p in archives} == archives


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_no_lone_archive_until_two_pages_fill(build, fmt: str):
    """One page of older items would make an archive with no neighbouring archive to link:
    the feed keeps its newest items only, and the next item publishes two archives at once."""
    out = build(4)
    assert not list(out.rglob("archive"))
    pages = history(out, "tags/t", fmt, BASE_URL)
    assert [len(p.entries) for p in pages] == [2]
    out = build(5)
    read_page.cache_clear()  # the same paths, rewritten
    pages = history(out, "tags/t", fmt, BASE_URL)
    assert [len(p.entries) for p in pages] == [2, 2, 2]
    if fmt != "json":
        assert pages[1].links.keys() >= {"current", "prev-archive"}
        assert pages[2].links.keys() >= {"current", "next-archive"}


def feed_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_without_archives_each_feed_is_its_newest_items_and_links_no_archive(build):
    """``feeds.archives = false``: no archive document, and no feed names one (no
    ``prev-archive``/``next-archive``/``current`` link in RSS and Atom, no ``next_url``)."""
    with_archives = feed_files(build(5))
    assert any("/archive/" in f or f.startswith("archive/") for f in with_archives)
    out = build(6, archives=False)  # the same output folder: the archives are removed
    read_page.cache_clear()
    files = feed_files(out)
    assert not any("archive" in f for f in files)
    assert files == {f for f in with_archives if "archive" not in f}
    for fmt in ("atom", "rss", "json"):
        for folder in ("", "tags/t"):
            pages = history(out, folder, fmt, BASE_URL)
            assert len(pages) == 1
            assert pages[0].links.keys() == {"self", "hub"} - ({"hub"} if fmt == "json" else set())
            titles = [e["title"] if fmt == "json" else e.title for e in pages[0].entries]
            assert titles == ["Day 6", "Day 5"]
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert b"archive" not in (out / name).read_bytes()
