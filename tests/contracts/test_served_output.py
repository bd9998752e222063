"""What ``syndicator build`` writes is what ``syndicator run --role web`` serves: every file
byte for byte with its media type, and every folder holding an ``index.html`` at its slash
URL (README "Output", "HTTP")."""

from __future__ import annotations

import httpx

from .conftest import Site

MEDIA_TYPES = {
    ".xml": ("application/rss+xml", "application/atom+xml"),
    ".json": ("application/feed+json",),
    ".html": ("text/html",),
    ".opml": ("text/x-opml", "application/xml", "text/xml"),
    ".css": ("text/css",),
    ".js": ("text/javascript", "application/javascript"),
}


def test_every_built_file_and_folder_index_is_served(site: Site):
    site.configure(worker={"role": "web"}, feeds={"max_items": 2})
    for n in range(5):
        site.write(f"p{n}.md", f"P{n}", categories="[News]", tags="[Open Data, Paris]")
    assert site.cli("build").code == 0
    site.run()
    base = site.served_at()
    built = [p for p in site.out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(built) > 20  # feeds, archives, pages
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "identity"}, timeout=120) as http:
        for path in built:
            url = "/" + path.relative_to(site.out).as_posix()
            served = http.get(url)
            assert served.status_code == 200, url
            assert served.content == path.read_bytes(), url
            media = served.headers["content-type"].split(";")[0]
            assert media in MEDIA_TYPES[path.suffix], (url, media)
        folders = {p.parent for p in built if p.name == "index.html"}
        # The builder writes a page into every feed's folder (README "Output"), each served at
        # its folder's slash URL: not only the root's.
        feeds = {site.out / f for f in ("categories/news", "tags/open-data", "tags/paris")}
        assert {site.out} | feeds <= folders, sorted(map(str, folders))
        for folder in folders - {site.out}:
            url = "/" + folder.relative_to(site.out).as_posix()
            assert http.get(url).status_code == 301, url
            assert http.get(url + "/").content == (folder / "index.html").read_bytes(), url
        assert http.get("/").content == (site.out / "index.html").read_bytes()


def test_a_long_tag_gets_a_folder_cut_at_a_word_within_200_characters(site: Site):
    # Words of one letter: the cut falls at 199 (200 would end on a separator); words of ten
    # letters: at 197, the last whole word, never in the middle of one.
    site.write("a.md", "A", tags="[" + " ".join(["a"] * 150) + ", " + "abcdefghij " * 30 + "]")
    assert site.cli("build").code == 0
    folders = sorted(p.name for p in (site.out / "tags").iterdir())
    assert folders == sorted(["-".join(["a"] * 100), "-".join(["abcdefghij"] * 18)])
