"""Rendered entries between scans: packed in one buffer, and only those of current pages kept."""

from __future__ import annotations

import pickle

from syndicator.announce.announcer import announcing_pipeline
from syndicator.engine import fragments as fragments_module
from syndicator.engine import render
from syndicator.engine.fragments import Fragments
from syndicator.store.database import open_engine

from .conftest import at, document, paged_config


def test_fragments_keep_their_bytes_through_discards_and_compaction():
    fragments = Fragments()
    for n in range(10):
        fragments.add(f"k{n}", f"<entry {n}>".encode() * (n + 1))
    fragments.add("k3", b"<entry 3, again>")
    fragments.discard("k4")
    assert "k4" not in fragments and fragments["k3"] == b"<entry 3, again>"

    fragments.keep({"k1", "k3", "k9", "gone"})

    assert [k for k in (f"k{n}" for n in range(10)) if k in fragments] == ["k1", "k3", "k9"]
    assert fragments["k1"] == b"<entry 1>" * 2 and fragments["k9"] == b"<entry 9>" * 10
    assert fragments["k3"] == b"<entry 3, again>"
    # What the dropped entries took is given back, not kept behind the live ones.
    assert fragments._size == len(b"<entry 1>" * 2 + b"<entry 9>" * 10) + 16


def test_fragments_keep_the_entries_added_last_besides_those_asked_for():
    fragments = Fragments()
    for n in range(6):
        fragments.add(f"k{n}", b"x")
    fragments.add("k1", b"again")

    fragments.keep({"k0"}, others=2)

    assert [k for k in (f"k{n}" for n in range(6)) if k in fragments] == ["k0", "k1", "k5"]


def test_a_scanner_keeps_the_entries_of_current_pages(tmp_path, store_url, monkeypatch):
    monkeypatch.setattr(render, "RECENT", 0)
    content = tmp_path / "_posts"
    content.mkdir()
    for n in range(10):
        tags = "tags: [solo]\n" if n == 0 else ""
        date = f"2024-01-{n + 1:02d} 10:00:00"
        (content / f"doc{n}.md").write_text(document(f"Doc {n}", date=date, extra=tags))
    engine = open_engine(store_url)
    scanner = announcing_pipeline(paged_config(content, tmp_path / "out", store_url), engine)
    scanner.scan(at(0))
    engine.dispose()

    assert scanner.renderer is not None
    # Three a page: the site's newest three, and doc0 on its tag's only page.
    kept = {f"_posts/doc{n}.md" for n in (0, 7, 8, 9)}
    for fmt, fragments in scanner.renderer._fragments.items():
        held = {f"_posts/doc{n}.md" for n in range(10) if f"_posts/doc{n}.md" in fragments}
        assert held == kept, fmt


def test_many_entries_move_to_a_file_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(fragments_module, "SPILL_BYTES", 50)
    fragments = Fragments(spill_to=tmp_path / "out")
    for n in range(10):
        fragments.add(f"k{n}", f"<entry {n}>".encode() * (n + 1))
    fragments.add("k3", b"<entry 3, again>")
    fragments.discard("k4")

    assert fragments._file is not None and fragments._buffer == bytearray()
    assert fragments["k9"] == b"<entry 9>" * 10 and fragments["k3"] == b"<entry 3, again>"
    # A fork server's worker gets the entries themselves.
    copy = pickle.loads(pickle.dumps(fragments))
    assert copy._file is None and all(copy[f"k{n}"] == fragments[f"k{n}"] for n in (0, 3, 9))
    fragments.keep({"k1", "k3"})
    assert fragments["k1"] == b"<entry 1>" * 2 and "k9" not in fragments
    assert fragments._size == len(b"<entry 1>" * 2 + b"<entry 3, again>")
    # Nothing in the folder shows it.
    assert list((tmp_path / "out").iterdir()) == []


def test_a_build_whose_entries_moved_to_files_writes_the_same_feeds(tmp_path, monkeypatch):
    """Page writers forked from a renderer whose entries are in files read them through the
    descriptors they inherit, and write what a renderer holding them in memory writes."""
    from syndicator import parallel

    from .conftest import differences

    content = tmp_path / "_posts"
    content.mkdir()
    for n in range(60):
        date = f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d} 10:00:00"
        (content / f"doc{n}.md").write_text(document(f"Doc {n}", date=date, extra="tags: [t]\n"))
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(parallel, "INLINE_BELOW", 10)
    for name, spill in (("memory", 10**9), ("files", 1000)):
        monkeypatch.setattr(fragments_module, "SPILL_BYTES", spill)
        url = f"sqlite:///{tmp_path / name}.db"
        engine = open_engine(url)
        announcing_pipeline(paged_config(content, tmp_path / name, url), engine).scan(at(0))
        engine.dispose()

    assert differences(tmp_path / "memory", tmp_path / "files") == []
    assert len(list((tmp_path / "files").rglob("*.xml"))) > 20
