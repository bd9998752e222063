"""The issue's acceptance build over the real numerique.gouv.fr corpus.

The expected content of every feed comes from ``reference`` (PyYAML, python-slugify and
dateutil used directly), and the feeds are read back with feedparser, so neither side of a
comparison is syndicator's own reading of the documents.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from .helpers import FILENAMES, CorpusBuild, history, read_page
from .reference import reachable

MAX_ITEMS = 50
FORMATS = sorted(FILENAMES)


def link_of(entry, fmt: str) -> str:
    return entry["url"] if fmt == "json" else entry.link


def published_of(entry, fmt: str) -> datetime:
    if fmt == "json":
        return datetime.fromisoformat(entry["date_published"])
    return datetime(*entry.published_parsed[:6], tzinfo=UTC)


def html_parts(entry, fmt: str) -> list[str]:
    if fmt == "json":
        return [entry.get("content_html", ""), entry.get("summary", "")]
    return [c.value for c in entry.get("content", [])] + [entry.get("summary", "")]


def test_broken_documents_are_named_with_file_line_and_reason(corpus: CorpusBuild):
    assert "Traceback" not in corpus.stderr
    if corpus.name == "all":
        assert len(corpus.expected.broken) == 4
    for broken in corpus.expected.broken:
        pattern = (
            rf"{re.escape(str(broken.path))}:{broken.line}: error: invalid YAML front matter: \S"
        )
        assert re.search(pattern, corpus.stderr), (broken, corpus.stderr)
    for key in corpus.expected.duplicates:
        assert re.search(rf"{re.escape(key)}: error: same id as ", corpus.stderr), key
    # Content errors (broken front matter, duplicate IDs) give exit 1, and only they; every
    # other document is still built (the tests below).
    errors = corpus.expected.broken or corpus.expected.duplicates
    assert corpus.code == (1 if errors else 0), corpus.stderr


def test_one_feed_set_per_distinct_category_and_tag(corpus: CorpusBuild):
    expected = set(corpus.expected.feeds())
    assert corpus.feed_folders() == expected
    for folder in expected:
        for filename in FILENAMES.values():
            assert (corpus.out / folder / filename).is_file(), (folder, filename)


def test_variant_spellings_are_one_feed_titled_with_the_most_used_form(corpus: CorpusBuild):
    """The corpus writes "Entrepreneurs d'Intérêt Général", "Entrepreneurs d’intérêt général",
    "Open data", "Open Data", "#Open data"…: one feed each, named as most documents name it."""
    titles = corpus.expected.titles()
    assert {"tags/entrepreneurs-dinteret-general", "tags/open-data"} <= set(titles)
    for folder, name in titles.items():
        title = read_page(corpus.out / folder / "atom.xml", "atom").title
        assert title == f"syndicator – {name}", folder


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_feed_holds_exactly_its_published_documents_newest_first(
    corpus: CorpusBuild, fmt: str
):
    for folder, members in corpus.expected.feeds().items():
        pages = history(corpus.out, folder, fmt)
        expected_dates = {m.link: m.published for m in reachable(members, MAX_ITEMS)}
        current = pages[0].entries
        # The subscription document: the newest max_items, newest first.
        assert len(current) == min(MAX_ITEMS, len(members)), folder
        newest = sorted((m.published for m in members), reverse=True)[:MAX_ITEMS]
        assert [published_of(e, fmt) for e in current] == newest, folder
        # The whole history: exactly the feed's documents (a feed without archives: its
        # newest), each with its own date.
        seen: dict[str, datetime] = {}
        for page in pages:
            links = [link_of(e, fmt) for e in page.entries]
            assert len(links) == len(set(links)), (folder, page.path)
            dates = [published_of(e, fmt) for e in page.entries]
            assert dates == sorted(dates, reverse=True), (folder, page.path)
            seen.update(zip(links, dates, strict=True))
        assert set(seen) == set(expected_dates), folder
        for link, when in seen.items():
            assert when == expected_dates[link], (folder, link)


def test_the_site_feed_history_holds_every_published_document(corpus: CorpusBuild):
    """Archives may overlap the subscription document (RFC 5005 allows it); none may miss."""
    ids = {i for page in history(corpus.out, "", "atom") for i in page.ids}
    assert ids == {item.link for item in corpus.expected.items}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_href_and_src_in_item_content_is_absolute(corpus: CorpusBuild, fmt: str):
    checked = 0
    for folder in corpus.expected.feeds():
        for page in history(corpus.out, folder, fmt):
            for entry in page.entries:
                for part in html_parts(entry, fmt):
                    if not part.strip():
                        continue
                    tree = lxml_html.fragment_fromstring(part, create_parent="div")
                    for element in tree.iter():
                        for name in ("href", "src"):
                            url = element.get(name)
                            if url is None:
                                continue
                            checked += 1
                            parts = urlsplit(url)
                            assert parts.scheme in {"http", "https", "mailto", "tel"}, url
                            if parts.scheme.startswith("http"):
                                assert parts.netloc, url
    assert checked > 100


def test_no_liquid_or_kramdown_syntax_reaches_any_feed(corpus: CorpusBuild):
    files = [p for p in corpus.out.rglob("*") if p.suffix in {".xml", ".json"}]
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        for marker in ("{%", "{{", "{:"):
            assert marker not in text, (path, marker, text[text.find(marker) - 80 :][:160])


def test_every_rss_and_atom_document_parses_without_bozo(corpus: CorpusBuild):
    files = [(p, "rss") for p in corpus.out.rglob("rss.xml")]
    files += [(p, "atom") for p in corpus.out.rglob("atom.xml")]
    assert len(files) > 100
    for path, fmt in files:
        read_page(path, fmt)  # asserts that bozo is false
