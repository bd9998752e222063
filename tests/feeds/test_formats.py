"""Each format against its specification, on every document of the corpus build:
Atom (RFC 4287, RELAX NG), RSS 2.0, JSON Feed 1.1, and RFC 5005 archives."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from lxml import etree

from .helpers import BASE_URL, FILENAMES, CorpusBuild, history, local_path
from .reference import archive_pages, reachable

ATOM = "{http://www.w3.org/2005/Atom}"
FH_ARCHIVE = "{http://purl.org/syndication/history/1.0}archive"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UT)$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def url_of(out: Path, path: Path) -> str:
    return f"{BASE_URL}/{path.relative_to(out).as_posix()}"


def documents(corpus: CorpusBuild, fmt: str) -> list[Path]:
    found = sorted(corpus.out.rglob(FILENAMES[fmt]))
    assert len(found) > 50
    return found


def test_every_atom_document_validates_against_the_rfc_4287_schema(
    corpus: CorpusBuild, atom_rng: Path
):
    schema = etree.RelaxNG(etree.parse(str(atom_rng)))
    paths = documents(corpus, "atom")
    assert any("archive" in p.parts for p in paths)
    for path in paths:
        tree = etree.parse(str(path))
        assert schema.validate(tree), (path, schema.error_log.last_error)
        self_links = tree.findall(f"{ATOM}link[@rel='self']")
        assert [link.get("href") for link in self_links] == [url_of(corpus.out, path)]


def test_atom_feed_updated_is_its_newest_entry(corpus: CorpusBuild):
    for path in documents(corpus, "atom"):
        tree = etree.parse(str(path))
        updated = [
            datetime.fromisoformat(u.text) for u in tree.iterfind(f"{ATOM}entry/{ATOM}updated")
        ]
        feed_updated = datetime.fromisoformat(tree.findtext(f"{ATOM}updated"))
        assert feed_updated == max(updated), path


def test_rss_dates_guids_and_self_links(corpus: CorpusBuild):
    atom_link = "{http://www.w3.org/2005/Atom}link"
    for path in documents(corpus, "rss"):
        channel = etree.parse(str(path)).getroot().find("channel")
        assert channel is not None
        for required in ("title", "link", "description"):
            assert channel.findtext(required), (path, required)
        self_links = [a.get("href") for a in channel.iterfind(atom_link) if a.get("rel") == "self"]
        assert self_links == [url_of(corpus.out, path)]
        for element in channel.iter("pubDate", "lastBuildDate"):
            assert RFC822.match(element.text), (path, element.text)
            parsedate_to_datetime(element.text)
        for item in channel.iterfind("item"):
            guid = item.find("guid")
            assert guid is not None and item.findtext("pubDate"), path
            assert guid.get("isPermaLink", "true") == "true"
            assert guid.text == item.findtext("link"), (path, guid.text)


def test_json_feed_has_every_field_version_1_1_requires(corpus: CorpusBuild):
    for path in documents(corpus, "json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(data["title"], str) and data["title"]
        assert data["feed_url"] == url_of(corpus.out, path)
        assert data["home_page_url"] == f"{BASE_URL}/"
        assert isinstance(data["items"], list)
        for author in data.get("authors", []):
            assert isinstance(author, dict) and author.get("name")
        for item in data["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert isinstance(item.get("content_html") or item.get("content_text"), str)
            assert item["url"].startswith(f"{BASE_URL}/")
            for key in ("date_published", "date_modified"):
                assert RFC3339.match(item[key]), (path, key, item[key])
            if "tags" in item:
                assert all(isinstance(t, str) for t in item["tags"])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_rfc_5005_archives(corpus: CorpusBuild, fmt: str):
    """The subscription document links the newest archive; each archive says it is one, links
    back to the subscription document and to at least one neighbouring archive (W3C's validator
    reports a lone one as incomplete); together they hold the whole history."""
    archived_feeds = 0
    for folder, members in corpus.expected.feeds().items():
        pages = history(corpus.out, folder, fmt)
        subscription = pages[0]
        current_url = url_of(corpus.out, subscription.path)
        assert "current" not in subscription.links
        assert etree.parse(str(subscription.path)).find(f".//{FH_ARCHIVE}") is None
        archives = archive_pages(len(members))
        assert len(pages) == 1 + archives, folder
        if not archives:
            continue
        archived_feeds += 1
        assert archives >= 2, folder
        for newer, page in itertools.pairwise(pages):
            assert etree.parse(str(page.path)).find(f".//{FH_ARCHIVE}") is not None, page.path
            assert page.links["current"] == current_url
            assert page.links["self"] == url_of(corpus.out, page.path)
            assert {"prev-archive", "next-archive"} & set(page.links), page.path
            if newer is not subscription:
                assert local_path(corpus.out, page.links["next-archive"]) == newer.path
        assert "prev-archive" not in pages[-1].links
    assert archived_feeds >= 1


def test_json_feed_pages_chain_through_next_url(corpus: CorpusBuild):
    for folder, members in corpus.expected.feeds().items():
        pages = history(corpus.out, folder, "json")
        ids = {i for page in pages for i in page.ids}
        assert ids == {m.link for m in reachable(members)}, folder


def test_every_feed_advertises_the_websub_hub(corpus: CorpusBuild):
    hub = f"{BASE_URL}/hub"
    for folder in corpus.expected.feeds():
        for fmt in ("atom", "rss"):
            assert history(corpus.out, folder, fmt)[0].links["hub"] == hub
        data = json.loads((corpus.out / folder / "feed.json").read_text(encoding="utf-8"))
        assert data["hubs"] == [{"type": "WebSub", "url": hub}]


def test_every_atom_entry_has_content_or_summary(corpus: CorpusBuild):
    """W3C's validator warns "Missing textual content" on an entry with neither."""
    entries = 0
    for path in documents(corpus, "atom"):
        for entry in etree.parse(str(path)).iterfind(f"{ATOM}entry"):
            entries += 1
            texts = [
                "".join(element.itertext()).strip() or element.get("src", "")
                for element in (entry.find(f"{ATOM}content"), entry.find(f"{ATOM}summary"))
                if element is not None
            ]
            assert any(texts), (path, entry.findtext(f"{ATOM}id"))
    assert entries > 100
