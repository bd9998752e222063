"""The store is never ahead of the output: a scan's rows are written while the output is
still being written (by a child process, for many items), and committed only once every file
is written. A page that cannot be written (a full disk) leaves the store as it was, so the
next scan redoes it all."""

from __future__ import annotations

import errno
import os

import pytest

from syndicator import parallel
from syndicator.announce.announcer import announcing_pipeline
from syndicator.pages import PageRenderer
from syndicator.store import records
from syndicator.store.database import open_engine

from .conftest import at, document, make_config


def _no_space(_renderer: PageRenderer, _job: object) -> bytes:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("forked", [False, True])
def test_a_scan_is_committed_only_once_its_pages_are_written(
    tmp_path, content, monkeypatch, forked, store_url
):
    for n in range(3):
        (content / f"d{n}.md").write_text(document(f"D{n}", extra=f"tags: [t{n}]\n"))
    if forked:  # the pages for people in worker processes, as on a large site
        monkeypatch.setattr(parallel, "workers", lambda: 2)
        monkeypatch.setattr(parallel, "INLINE_BELOW", 1)
    config = make_config(content, tmp_path / "out", store_url)
    engine = open_engine(store_url)
    with monkeypatch.context() as full:
        full.setattr(PageRenderer, "render_feed_page", _no_space)
        with pytest.raises(OSError, match="No space left"):
            announcing_pipeline(config, engine).scan(at(0))
    with engine.connect() as connection:
        assert records.load_documents(connection) == {}
        assert records.load_items(connection) == {}

    writer = tmp_path / "writer"
    save = records.save_documents
    monkeypatch.setattr(
        records,
        "save_documents",
        lambda *args: writer.write_text(str(os.getpid())) and save(*args),
    )
    pipeline = announcing_pipeline(config, engine)
    result = pipeline.scan(at(1))
    with engine.connect() as connection:
        assert len(records.load_documents(connection)) == 3
        stored = records.load_items(connection)
    # Forked: the rows were written by a child beside the output (``parallel.Beside``).
    assert (writer.read_text() != str(os.getpid())) == forked
    assert "tags/t0/index.html" in result.report.written

    # This process remembers the records the child wrote: the next scan announces only the edit.
    (content / "d0.md").write_text(document("D0", extra="tags: [t0]\n", body="Edited."))
    edited = pipeline.scan(at(2))
    assert [(e.type, e.key) for e in edited.events] == [("item.updated", "_posts/d0.md")]
    with engine.connect() as connection:
        now_stored = records.load_items(connection)
    assert {k: r for k, r in now_stored.items() if k != "_posts/d0.md"} == {
        k: r for k, r in stored.items() if k != "_posts/d0.md"
    }
    assert now_stored["_posts/d0.md"].version != stored["_posts/d0.md"].version
    engine.dispose()


@pytest.mark.parametrize("large", [False, True])
def test_a_large_site_writes_its_pages_before_the_store_rows(tmp_path, content, monkeypatch, large):
    """From ``ROUND_ITEMS`` items on, the pages for people are waited for before the store's
    rows are written: workers still alive then would keep every page of items shared, and the
    engine touches each item as it writes them (1,180 MiB of peak PSS at 100,000 documents)."""
    from syndicator.engine import render

    for n in range(3):
        (content / f"d{n}.md").write_text(document(f"D{n}", extra=f"tags: [t{n}]\n"))
    monkeypatch.setattr(render, "ROUND_ITEMS", 3 if large else 4)
    saved: list[int] = []
    save = records.save_documents
    monkeypatch.setattr(
        records, "save_documents", lambda c, u, r: saved.append(len(u)) or save(c, u, r)
    )
    monkeypatch.setattr(PageRenderer, "render_feed_page", _no_space)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_engine(url)
    with pytest.raises(OSError, match="No space left"):
        announcing_pipeline(make_config(content, tmp_path / "out", url), engine).scan(at(0))
    engine.dispose()
    assert saved == ([] if large else [3])
