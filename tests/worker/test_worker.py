"""``syndicator run`` as a real process: watch, schedule, restart, stop, single scanner."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from .conftest import document

# A hang guard, generous for a loaded machine; the speed target (well under a second from
# file change to feed) is measured by bench/watch.py.
WITHIN = 30.0


def _wait_for(condition: Callable[[], bool], timeout: float = WITHIN) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s")


def _titles(path: Path) -> list[str]:
    if not path.exists():
        return []
    if path.suffix == ".json":
        return [item["title"] for item in json.loads(path.read_bytes())["items"]]
    return [e.title for e in feedparser.parse(path.read_bytes()).entries]


@pytest.fixture
def site(tmp_path: Path, worker_config) -> Path:
    worker_config(tmp_path, f"sqlite:///{tmp_path / 'var' / 's.db'}")
    return tmp_path


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


@pytest.fixture
def worker(site: Path, start_worker) -> subprocess.Popen[str]:
    return start_worker(site / "syndicator.toml")


def test_watch_edit_delete_draft_and_schedule(site, worker):
    out = site / "out"
    posts = site / "_posts"
    (posts / "hello.md").write_text(
        document("Hello", extra="categories: [News]\ntags: Paris, Lyon\n")
    )
    _wait_for(lambda: _titles(out / "rss.xml") == ["Hello"])
    for feed in ("categories/news/atom.xml", "tags/paris/feed.json", "tags/lyon/rss.xml"):
        _wait_for(lambda feed=feed: _titles(out / feed) == ["Hello"])

    first = feedparser.parse((out / "atom.xml").read_bytes()).entries[0]
    (posts / "hello.md").write_text(
        document("Hello again", extra="categories: [News]\ntags: Paris, Lyon\n")
    )
    _wait_for(lambda: _titles(out / "atom.xml") == ["Hello again"])
    edited = feedparser.parse((out / "atom.xml").read_bytes()).entries[0]
    assert edited.id == first.id
    assert edited.updated_parsed >= first.updated_parsed

    (posts / "hello.md").unlink()
    _wait_for(lambda: _titles(out / "atom.xml") == [])

    (posts / "draft.md").write_text(document("Draft", extra="published: false\n"))
    # A marker written after the draft: once it is in the feed, the draft was scanned too.
    (posts / "marker.md").write_text(document("Marker"))
    _wait_for(lambda: _titles(out / "atom.xml") == ["Marker"])
    (posts / "marker.md").unlink()
    _wait_for(lambda: _titles(out / "atom.xml") == [])
    (posts / "draft.md").write_text(document("Draft", extra="published: true\n"))
    _wait_for(lambda: _titles(out / "atom.xml") == ["Draft"])

    soon = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    (posts / "soon.md").write_text(document("Soon", date=soon.isoformat()))
    (posts / "later.md").write_text(document("Later marker"))
    _wait_for(lambda: "Later marker" in _titles(out / "atom.xml"))
    if datetime.now(UTC) < soon:  # scanned before its time: not yet in the feed
        assert "Soon" not in _titles(out / "atom.xml")
    _wait_for(lambda: "Soon" in _titles(out / "atom.xml"))

    assert _stop(worker) == 0


def test_run_serves_the_feeds_and_health(site, worker):
    """One ``syndicator run`` process also serves the output folder and /healthz (role all)."""
    url = re.search(r"serving (http://\S+)", (site / "worker.log").read_text()).group(1)
    (site / "_posts" / "a.md").write_text(document("Served"))
    _wait_for(lambda: _titles(site / "out" / "rss.xml") == ["Served"])
    feed = httpx.get(f"{url}/rss.xml")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/rss+xml")
    assert [e.title for e in feedparser.parse(feed.content).entries] == ["Served"]
    assert (
        httpx.get(f"{url}/rss.xml", headers={"If-None-Match": feed.headers["etag"]}).status_code
        == 304
    )
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_restart_announces_nothing_new(site, worker, start_worker):
    (site / "_posts" / "a.md").write_text(document("A"))
    _wait_for(lambda: _titles(site / "out" / "atom.xml") == ["A"])
    assert _stop(worker) == 0
    again = start_worker(site / "syndicator.toml")
    try:
        # A later change, announced: the restarted worker has scanned past the old state.
        (site / "_posts" / "b.md").write_text(document("B"))
        _wait_for(lambda: sorted(_titles(site / "out" / "atom.xml")) == ["A", "B"])
    finally:
        assert _stop(again) == 0
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "syndicator",
            "events",
            "list",
            "--config",
            str(site / "syndicator.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(listed) == 2  # A once (not again at restart), then B
    assert all("item.published" in line for line in listed)


def test_a_second_worker_on_the_same_store_refuses_to_start(site, worker):
    second = subprocess.run(
        [sys.executable, "-m", "syndicator", "run", "--config", str(site / "syndicator.toml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    assert "another syndicator worker" in second.stderr


def test_a_problem_is_logged_when_found_not_on_every_scan(site, start_worker):
    """The first scan logs what is wrong with the site; later ones only what they found."""
    posts = site / "_posts"
    (posts / "broken.md").write_text("---\ntitle: [unclosed\n---\nText.\n")
    worker = start_worker(site / "syndicator.toml")
    log = site / "worker.log"
    _wait_for(lambda: "broken.md:3: error" in log.read_text())
    (posts / "second.md").write_text("---\ntitle: [unclosed too\n---\nText.\n")
    _wait_for(lambda: "second.md:3: error" in log.read_text())
    for n in range(3):  # scans that parse a good file each: the markers
        (posts / f"good{n}.md").write_text(document(f"Good {n}"))
        _wait_for(lambda n=n: f"Good {n}" in _titles(site / "out" / "atom.xml"))
    text = log.read_text()
    assert text.count("broken.md:3: error") == 1
    assert text.count("second.md:3: error") == 1
    assert _stop(worker) == 0
