"""Work spread over worker processes gives the same files as work done in one process.

A site whose parsing, entry rendering, feed writing and pages for people all go to worker
processes is built twice, once with the workers and once with every stage run inline; the
two output folders must be byte-identical, and the manifest must list every file written.
The workers are forked when no other thread runs, and come from the fork server (inputs
pickled) while another thread runs, as in ``syndicator run``: both ways are built.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from syndicator import parallel
from syndicator.announce.announcer import announcing_pipeline
from syndicator.config import with_overrides
from syndicator.output.writer import MANIFEST
from syndicator.store.database import open_engine

from .conftest import at, differences, paged_config

DOCUMENTS = parallel.INLINE_BELOW + 50


def _site(content: Path) -> None:
    content.mkdir()
    for n in range(DOCUMENTS):
        (content / f"doc{n}.md").write_text(
            f"---\ntitle: Doc {n}\ndate: 2024-{n % 12 + 1:02d}-{n % 28 + 1:02d} 10:{n % 60:02d}:00\n"
            f"categories: [{['News', 'Sport', 'Culture'][n % 3]}]\ntags: [t{n % 7}, t{n % 5}]\n"
            f"---\n\nBody of [document {n}](/docs/{n}/).\n"
        )


def _build(content: Path, output: Path, tmp_path: Path) -> int:
    url = f"sqlite:///{tmp_path / output.name}.db"
    engine = open_engine(url)
    scanner = announcing_pipeline(paged_config(content, output, url), engine)
    result = scanner.scan(at(0))
    engine.dispose()
    return len(result.report.written)


@pytest.mark.parametrize("other_thread", [False, True])
def test_forked_stages_write_what_one_process_writes(tmp_path, monkeypatch, other_thread):
    content = tmp_path / "_posts"
    _site(content)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    release = threading.Event()
    running = threading.Thread(target=release.wait)
    if other_thread:
        running.start()
    else:
        _only_this_thread()
    forks: list[str] = []
    monkeypatch.setattr(parallel, "_collect", _counting(parallel._collect, forks))
    # Every stage to the workers, the pages for people too (a few dozen here).
    monkeypatch.setattr(parallel, "INLINE_BELOW", 10)
    try:
        forked = _build(content, tmp_path / "forked", tmp_path)
    finally:
        release.set()
    method = "forkserver" if other_thread else "fork"
    # Reading, then each format's entries and documents, then the pages for people.
    assert forks == [method] * (2 + 2 * len(paged_config(content, tmp_path, "").feeds.formats))
    monkeypatch.setattr(parallel, "INLINE_BELOW", 10**9)
    inline = _build(content, tmp_path / "inline", tmp_path)

    assert forked == inline > 3 * (DOCUMENTS - 50)
    assert differences(tmp_path / "forked", tmp_path / "inline") == []
    listed = set((tmp_path / "forked" / MANIFEST).read_text().split())
    on_disk = {
        str(p.relative_to(tmp_path / "forked"))
        for p in (tmp_path / "forked").rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    assert listed == on_disk


def _only_this_thread() -> None:
    """Until the threads an earlier test left behind have ended (servers that answered a
    keep-alive connection, say): the single-thread case needs a process with one thread."""
    deadline = time.monotonic() + 60  # a hang guard: a thread still there is a leak
    while threading.active_count() > 1:
        names = sorted(t.name for t in threading.enumerate())
        assert time.monotonic() < deadline, f"threads left running: {names}"
        time.sleep(0.02)


def _counting(collect, seen):
    def counted(pool, *args):
        seen.append(pool._mp_context.get_start_method())
        return collect(pool, *args)

    return counted


@pytest.fixture(autouse=True)
def _no_leaked_children():
    """A forked stage must not leave processes behind."""
    yield
    assert multiprocessing.active_children() == []


def test_results_cross_processes_as_they_were_made(tmp_path):
    """What the reading workers send back (``sent_as_fields``) comes back equal, every field in
    its place, and a one-field class is refused rather than pickled as its bare value."""
    import pickle
    from dataclasses import dataclass

    from syndicator.content.sources import walk
    from syndicator.engine.reading import read_sources

    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(
        "---\ntitle: A\ndate: 2024-01-02 03:04:05\ncategories: [News]\ntags: [x, y]\n"
        "image: /a.png\n---\n\nBody *here*.\n"
    )
    (content / "b.md").write_text("---\ntitle: [broken\n---\n")
    config = paged_config(content, tmp_path / "out", "sqlite://")
    reads = read_sources(walk(config.content.paths), config)
    assert reads and all(pickle.loads(pickle.dumps(r)) == r for r in reads)
    assert any(r.result and r.result.problems for r in reads)

    @dataclass(frozen=True, slots=True)
    class One:
        value: int

    with pytest.raises(TypeError):
        parallel.sent_as_fields(One)


def test_a_scanner_forks_for_its_first_scan_and_uses_the_fork_server_once_threads_run(
    tmp_path, monkeypatch
):
    """``run``'s first scan, its longest, runs before the scheduler and the watcher start:
    alone in its process, the scanner forks its workers (nothing pickled). The scans that
    follow, with those threads running, take their workers from the fork server."""
    from syndicator.vocabulary import Role
    from syndicator.worker.service import Worker

    content = tmp_path / "_posts"
    _site(content)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(parallel, "INLINE_BELOW", 1)
    forks: list[str] = []
    monkeypatch.setattr(parallel, "_collect", _counting(parallel._collect, forks))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    output = tmp_path / "out"
    worker = Worker(paged_config(content, output, url), open_engine(url), role=Role.SCANNER)
    _only_this_thread()
    worker.start()
    try:
        first = list(forks)
        (content / "late.md").write_text("---\ntitle: Late\ndate: 2025-06-01\n---\n\nLate.\n")
        deadline = time.monotonic() + 60  # a hang guard
        while b"Late" not in (output / "feed.json").read_bytes():
            assert time.monotonic() < deadline, "the new document never reached the feed"
            time.sleep(0.02)
    finally:
        worker.stop()
    assert first and set(first) == {"fork"}
    assert forks[len(first) :] and set(forks[len(first) :]) == {"forkserver"}


def _doubled(chunk):
    return [2 * n for n in chunk]


def test_a_large_job_goes_to_fresh_pools_in_order(monkeypatch):
    """Above ``ROUND_ITEMS`` items, each pool takes that many (their workers' copies of the
    inherited heap are freed as each ends); results keep their order and progress its count."""
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(parallel, "ROUND_ITEMS", 400)
    forks: list[str] = []
    monkeypatch.setattr(parallel, "_collect", _counting(parallel._collect, forks))
    seen: list[tuple[int, int]] = []
    _only_this_thread()

    results = parallel.map_chunks(
        _doubled, range(1000), progress=lambda done, total: seen.append((done, total))
    )

    assert results == [2 * n for n in range(1000)]
    assert forks == ["fork"] * 3
    assert seen[-1] == (1000, 1000) and seen == sorted(seen)


def test_items_that_cost_more_go_to_the_workers_sooner(tmp_path, monkeypatch):
    """A site with fewer feed pages than ``INLINE_BELOW`` still renders them in the workers,
    since each costs ``FEED_PAGE_WEIGHT`` readings of a document: at 5,000 documents, 211
    of them rendered in one process while the other core waited. Cheaper work stays inline."""
    from syndicator.pages import FEED_PAGE_WEIGHT

    content = tmp_path / "_posts"
    _site(content)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    # The site has 10 tag and category feeds: 40 readings' worth of feed pages.
    monkeypatch.setattr(parallel, "INLINE_BELOW", 10 * FEED_PAGE_WEIGHT)
    forks: list[str] = []
    monkeypatch.setattr(parallel, "_collect", _counting(parallel._collect, forks))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = with_overrides(paged_config(content, tmp_path / "out", url), feeds={"archives": False})
    engine = open_engine(url)
    _only_this_thread()
    announcing_pipeline(config, engine).scan(at(0))
    engine.dispose()
    # Reading (450 documents) and the pages for people; the 11 documents of each format's
    # feeds, and the 33 entries at most that they hold, stay inline.
    assert forks == ["fork", "fork"]


def test_a_read_ahead_is_taken_only_for_the_files_and_settings_it_read(tmp_path, monkeypatch):
    """``build`` into a new store hands the folder to the reading workers before the store is
    open (``ReadAhead``). The scan takes those reads only if it reads exactly those files under
    the same settings, knowing no hash; otherwise the workers are stopped and it reads itself,
    so a read-ahead can never give a scan reads it did not ask for."""
    from syndicator.content.sources import walk
    from syndicator.engine.reading import ReadAhead, read_sources

    content = tmp_path / "_posts"
    _site(content)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    config = paged_config(content, tmp_path / "out", "sqlite://")
    other = with_overrides(config, feeds={"full_content": False})
    sources = walk(config.content.paths)
    forks: list[str] = []
    monkeypatch.setattr(parallel, "_collect", _counting(parallel._collect, forks))
    _only_this_thread()

    ahead = ReadAhead(config)
    assert forks == ["fork"]  # at work before anything is asked of it
    assert ahead.take(sources, config, {}) == read_sources(sources, config)
    for refused in (
        (sources[:-1], config, {}),
        (sources, other, {}),
        (sources, config, {sources[0].key: "0" * 64}),
    ):
        ahead = ReadAhead(config)
        assert ahead.take(*refused) is None
        assert multiprocessing.active_children() == []  # its workers were stopped
    ahead = ReadAhead(config)
    ahead.close()
    assert multiprocessing.active_children() == []


def _mark(folder: Path, name: str) -> None:
    """``folder/name`` holding this process's id, whole once it exists (this test process may
    be waiting for it)."""
    (folder / f".{name}").write_text(str(os.getpid()))
    os.replace(folder / f".{name}", folder / name)


def _steps(folder: Path, fail: str = "") -> Generator[None, None, int]:
    """Two steps that leave a file each, and one when closed at the ``yield``."""
    if fail == "first":
        raise ValueError("the first step failed")
    _mark(folder, "first")
    try:
        yield
    except GeneratorExit:
        _mark(folder, "closed")
        raise
    if fail == "second":
        raise ValueError("the second step failed")
    _mark(folder, "second")
    return os.getpid()


def _beside(folder: Path, fail: str = "", size: int = parallel.INLINE_BELOW):
    work = parallel.Beside(
        _steps(folder, fail),
        size=size,
        after_fork=lambda: _mark(folder, "after_fork"),
    )
    work.begin()
    return work


def test_work_beside_runs_in_a_child_until_this_process_says_go(tmp_path, monkeypatch):
    """``Beside``: a scan's rows are written by a child while this process writes the output;
    they are committed only once it says so, and closed otherwise (the store then rolls back)."""
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    _only_this_thread()
    work = _beside(tmp_path)
    deadline = time.monotonic() + 60  # a hang guard; the wait is for the file
    while not (tmp_path / "first").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int((tmp_path / "first").read_text())
    assert child != os.getpid()
    assert not (tmp_path / "second").exists()
    assert work.commit() == child
    assert int((tmp_path / "second").read_text()) == child
    assert int((tmp_path / "after_fork").read_text()) == child  # before the first step

    for where in ("first", "second", "closed"):
        (tmp_path / where).unlink(missing_ok=True)
    _beside(tmp_path).abandon()
    assert (tmp_path / "closed").read_text() == (tmp_path / "first").read_text() != str(os.getpid())
    assert not (tmp_path / "second").exists()
    for fail in ("first", "second"):
        with pytest.raises(ValueError, match=f"the {fail} step failed"):
            _beside(tmp_path, fail).commit()
    # Abandoned, a failed first step is not raised: the caller has its own error to raise.
    _beside(tmp_path, "first").abandon()


def test_small_work_beside_runs_here(tmp_path, monkeypatch):
    """Below ``INLINE_BELOW`` items, or with another thread running, no child is forked: the
    first step runs at ``begin``, in this process."""
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    _only_this_thread()
    work = _beside(tmp_path, size=parallel.INLINE_BELOW - 1)
    assert (tmp_path / "first").read_text() == str(os.getpid())
    assert work.commit() == os.getpid()
    assert not (tmp_path / "after_fork").exists()
    with pytest.raises(ValueError, match="the first step failed"):
        _beside(tmp_path, "first", size=parallel.INLINE_BELOW - 1)
    release = threading.Event()
    running = threading.Thread(target=release.wait)
    running.start()
    try:
        assert _beside(tmp_path).commit() == os.getpid()
    finally:
        release.set()
        running.join()
