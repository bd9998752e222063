"""The pages as files: one per feed, links that lead somewhere, and rewritten only when their
feed changes (through real builds, then an edit and a rebuild)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import feedparser
from engine.conftest import at, paged_config
from feeds.helpers import BASE_URL, NOW
from lxml import html as lxml_html

from syndicator.announce.announcer import announcing_pipeline
from syndicator.catalog import LiveCatalog
from syndicator.config import DEFAULT_READERS, Config, with_overrides
from syndicator.pages import PageRenderer
from syndicator.store.database import open_engine

from .conftest import BuiltSite


def test_every_category_and_tag_feed_has_its_page(site: BuiltSite):
    folders = {p.parent for p in site.out.rglob("atom.xml") if "archive" not in p.parts}
    pages = {p.parent for p in site.out.rglob("index.html")}
    assert pages == folders
    expected = {site.out / folder for folder in site.feeds() if folder} | {site.out}
    assert pages == expected
    assert len(pages) == 1 + 17 + 156


def _article_links(folder: Path) -> set[str]:
    """The article URLs of the items of the feed in ``folder``, every archive included."""
    documents = [folder / "atom.xml", *folder.glob("archive/*/atom.xml")]
    return {e.link for d in documents for e in feedparser.parse(d.read_bytes()).entries}


def _resolves(out: Path, page: Path, href: str) -> bool:
    """A link to a file of the output: an absolute URL of the site or a relative one."""
    if href.startswith(BASE_URL + "/"):
        target = out / urlsplit(href).path.lstrip("/")
    else:
        base = "/" + page.parent.relative_to(out).as_posix() + "/"
        target = out / urljoin(base.replace("//", "/"), href).lstrip("/")
    return target.is_file() or (target / "index.html").is_file()


def test_every_link_leads_to_a_file_of_the_output_or_to_an_article(site: BuiltSite):
    out = site.out
    checked = 0
    for page in sorted(out.rglob("index.html")):
        tree = lxml_html.parse(str(page))
        articles = _article_links(page.parent)
        atom = f"{BASE_URL}/{page.parent.relative_to(out).as_posix()}/atom.xml".replace(
            f"{BASE_URL}/./", f"{BASE_URL}/"
        )
        readers = {f"feed:{atom}"} | {
            pattern.replace("{url}", quote(atom, safe="")) for pattern in DEFAULT_READERS.values()
        }
        links = tree.xpath("//a[@href] | //link[@href] | //script[@src]")
        assert links
        for element in links:
            href = element.get("href") or element.get("src")
            if href.startswith("#"):
                assert tree.xpath(f"//*[@id='{href[1:]}']"), (page, href)
            elif "reader" in element.get("class", "").split():
                assert href in readers, (page, href)
            elif _resolves(out, page, href):
                pass
            else:
                assert href in articles, (page, href)
            checked += 1
        # Images are the articles' own, beside their titles: an empty alt.
        assert all(img.get("alt") == "" and img.get("src") for img in tree.xpath("//img"))
        # Every reader link is there, and the articles listed are this feed's own.
        assert {a.get("href") for a in tree.xpath("//a[@class='reader']")} == readers
    assert checked > 174 * 10


def _snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """Each file's (inode, mtime): a file replaced or rewritten changes one of them."""
    found = {}
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            info = path.stat()
            found[path.relative_to(out).as_posix()] = (info.st_ino, info.st_mtime_ns)
    return found


def _doc(title: str, date: str, categories: str, tags: str, summary: str = "Short.") -> str:
    return (
        f"---\ntitle: {title}\ndate: {date}\ncategories: [{categories}]\ntags: [{tags}]\n"
        f"excerpt: {summary}\n---\n\nBody of {title}.\n"
    )


def test_a_page_is_rewritten_only_when_its_feed_changes(tmp_path: Path, run_cli, write_doc):
    content = tmp_path / "_posts"
    write_doc(content, "a.md", _doc("Alpha", "2024-01-01 10:00:00", "News", "x, y"))
    write_doc(content, "b.md", _doc("Beta", "2024-02-01 10:00:00", "News", "y"))
    write_doc(content, "c.md", _doc("Gamma", "2024-03-01 10:00:00", "Sport", "z"))
    write_doc(content, "d.md", _doc("Delta", "2024-04-01 10:00:00", "Sport", "y"))
    out = tmp_path / "out"
    env = {"SYNDICATOR_FEEDS_MAX_ITEMS": "2"}

    def build() -> None:
        args = ["build", "--content", content, "--output", out, "--base-url", BASE_URL]
        result = run_cli(*args, "--now", NOW, cwd=tmp_path, env=env)
        assert result.code == 0, result.stderr

    build()
    pages = {"index.html", "categories/news/index.html", "categories/sport/index.html"}
    pages |= {f"tags/{t}/index.html" for t in "xyz"}
    assert pages <= set(_snapshot(out))
    before = _snapshot(out)

    def changed() -> set[str]:
        after = _snapshot(out)
        return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}

    # Nothing changed: nothing rewritten.
    build()
    assert changed() == set()

    # Alpha's summary: on the current page of news and x, not y's (y shows its newest two).
    # The directory changes too: it says when news and x were last updated (now).
    write_doc(content, "a.md", _doc("Alpha", "2024-01-01 10:00:00", "News", "x, y", "Longer."))
    build()
    assert {p for p in changed() if p.endswith("index.html")} == {
        "index.html",
        "categories/news/index.html",
        "tags/x/index.html",
    }
    row = lxml_html.parse(str(out / "index.html")).xpath("//li[a/@href='tags/x/']")[0]
    assert " ".join(row.text_content().split()) == "x 1 article, mis à jour le 1 juin 2024"
    assert "tags/y/atom.xml" not in changed()
    assert "Longer." in (out / "tags/x/index.html").read_text()
    before = _snapshot(out)

    # Gamma goes: its tag z goes with its page; sport's page and the directory change.
    (content / "c.md").unlink()
    build()
    assert not (out / "tags/z").exists()
    assert {p for p in changed() if p.endswith("index.html")} == {
        "index.html",
        "categories/sport/index.html",
        "tags/z/index.html",
    }
    directory = (out / "index.html").read_text()
    assert 'href="tags/z/"' not in directory and 'href="tags/x/"' in directory
    assert sorted(os.listdir(out / "tags")) == ["x", "y"]


def test_a_running_worker_writes_a_page_with_its_feed_and_removes_it_with_it(tmp_path: Path):
    """The incremental path: one long-lived scanner, scans after each edit (as the worker)."""
    content = tmp_path / "_posts"
    content.mkdir()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    config = with_overrides(paged_config(content, tmp_path / "out", store), feeds={"max_items": 2})
    scanner = announcing_pipeline(config, open_engine(store))
    out = tmp_path / "out"
    (content / "a.md").write_text(_doc("Alpha", "2024-01-01 10:00:00", "News", "x, y"))
    (content / "b.md").write_text(_doc("Beta", "2024-02-01 10:00:00", "News", "y"))
    (content / "c.md").write_text(_doc("Gamma", "2024-03-01 10:00:00", "Sport", "z"))
    (content / "d.md").write_text(_doc("Delta", "2024-04-01 10:00:00", "Sport", "y"))
    scanner.scan(at(0))
    assert (out / "tags/z/index.html").is_file()

    def pages(written: list[str]) -> set[str]:
        return {p for p in written if p.endswith("index.html")}

    # Alpha is not on y's current page: y's page is not even rendered again; x's and news's are.
    (content / "a.md").write_text(_doc("Alpha", "2024-01-01 10:00:00", "News", "x, y", "New."))
    written = scanner.scan(at(60)).report.written
    assert pages(written) == {"index.html", "categories/news/index.html", "tags/x/index.html"}
    # Gamma goes, and tag z with it: its page too.
    (content / "c.md").unlink()
    result = scanner.scan(at(120))
    assert "tags/z/index.html" in result.report.removed
    assert not (out / "tags/z").exists()
    assert pages(result.report.written) == {"index.html", "categories/sport/index.html"}
    assert 'href="tags/z/"' not in (out / "index.html").read_text()


def test_english_labels_for_english_and_other_languages_and_no_hub_or_api_when_off(
    tmp_path: Path, run_cli, write_doc
):
    content = tmp_path / "_posts"
    write_doc(content, "a.md", _doc("Alpha", "2024-01-01 10:00:00", "News", "x"))
    for language in ("en", "de-DE"):
        out = tmp_path / language
        env = {"SYNDICATOR_SITE_LANGUAGE": language, "SYNDICATOR_WEBSUB_ENABLED": "false"}
        args = ["build", "--content", content, "--output", out, "--base-url", BASE_URL]
        result = run_cli(*args, "--now", NOW, cwd=tmp_path, env=env)
        assert result.code == 0, result.stderr
        page = lxml_html.parse(str(out / "categories/news/index.html")).getroot()
        assert page.get("lang") == "en"
        assert page.xpath("//h1")[0].get("lang") == language
        facts = " ".join(page.xpath("//main/p[@class='facts']")[0].text_content().split())
        assert facts == "1 article, updated January 1, 2024, the oldest from January 1, 2024."
        assert page.xpath("//button/@aria-label") == [
            "Copy the RSS address",
            "Copy the Atom address",
            "Copy the JSON Feed address",
        ]
        assert not page.xpath("//*[@class='hub' or @class='api']")


def test_the_page_renderer_travels_to_worker_processes():
    """A worker started by a forkserver receives the renderer pickled (see parallel.py)."""
    renderer = PageRenderer(with_overrides(Config(), site={"language": "en"}))
    copy = pickle.loads(pickle.dumps(renderer.render_feed_page)).__self__
    catalog = LiveCatalog()
    assert copy.directory(catalog) == renderer.directory(catalog)
    assert b'<html lang="en">' in copy.directory(catalog)


def test_a_card_shows_the_item_as_it_is_now_in_a_long_lived_scanner(tmp_path: Path):
    """Cards are made once per item and reused (``PageRenderer._card``): an edit to what a
    card shows (title, date, summary) gives a new card on every page of the item."""
    content = tmp_path / "_posts"
    content.mkdir()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    scanner = announcing_pipeline(
        paged_config(content, tmp_path / "out", store), open_engine(store)
    )
    page = tmp_path / "out" / "tags" / "x" / "index.html"
    (content / "a.md").write_text(_doc("Alpha", "2024-01-01 10:00:00", "News", "x", "First."))
    scanner.scan(at(0))
    assert "Alpha" in page.read_text() and "First." in page.read_text()

    (content / "a.md").write_text(_doc("Omega", "2024-01-02 10:00:00", "News", "x", "Second."))
    scanner.scan(at(60))

    text = page.read_text()
    assert "Omega" in text and "Second." in text and "2 janvier 2024" in text
    assert "Alpha" not in text and "First." not in text and "1 janvier 2024" not in text
