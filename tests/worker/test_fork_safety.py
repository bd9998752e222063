"""``syndicator run`` never forks once its threads run, and keeps up with edits.

The worker runs as a real process in the role that forks, the scanner (its scheduler and
watcher threads; ``--role all`` runs this very process as a child, beside the server and the
deliverer in processes of their own), on a 1,000-document folder, with
``SYNDICATOR_CHECK_FORKS=1``: an audit hook then refuses any ``os.fork`` made while another
thread is alive, anywhere in the process, and the scan that tried it fails loudly. Parallel
stages are forced for every scan (``INLINE_BELOW = 1``, set in this very process), so
each of the 100 rounds of edits (two files, the second written while the first one's scan
renders) goes through worker processes. Each round waits for both new titles in the feed: a
hang would stop the test there (pytest-timeout).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DOCUMENTS = 1000
ROUNDS = 100
LAUNCH = (
    "import sys, syndicator.parallel as p; p.INLINE_BELOW = 1; "
    "from syndicator.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _doc(title: str, date: str, category: str) -> str:
    return f"---\ntitle: {title}\ndate: {date}\ncategories: [{category}]\n---\n\nText of {title}.\n"


@pytest.fixture
def site(tmp_path: Path, worker_config) -> Path:
    posts = tmp_path / "_posts"
    posts.mkdir()
    for n in range(DOCUMENTS):
        date = f"20{10 + n % 14}-{n % 12 + 1:02d}-{n % 28 + 1:02d} 10:00:00 +01:00"
        (posts / f"doc{n}.md").write_text(_doc(f"Doc {n}", date, f"C{n % 5}"))
    worker_config(tmp_path, f"sqlite:///{tmp_path / 'var' / 's.db'}")
    return tmp_path


def _titles(feed: Path) -> set[str]:
    try:
        return {item["title"] for item in json.loads(feed.read_bytes())["items"]}
    except (FileNotFoundError, ValueError):
        return set()


def _wait(condition, process: subprocess.Popen[str], log: Path) -> None:
    """Until ``condition`` holds; fails at once if the worker died or refused a fork."""
    while not condition():
        text = log.read_text()
        assert process.poll() is None, text[-3000:]
        assert "fork refused" not in text and "scan failed" not in text, text[-3000:]
        time.sleep(0.01)


def test_run_never_forks_after_threads_start_and_never_hangs(site: Path):
    log, config = site / "worker.log", site / "syndicator.toml"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "run", "--role", "scanner", "--config", str(config)],
            cwd=site,
            stderr=sink,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "SYNDICATOR_CHECK_FORKS": "1"},
        )
    try:
        _wait(lambda: "worker running" in log.read_text(), process, log)
        feed = site / "out" / "feed.json"
        posts = site / "_posts"
        for round_ in range(ROUNDS):
            first, second = f"Hot A {round_}", f"Hot B {round_}"
            (posts / "hot-a.md").write_text(_doc(first, "2025-01-01 10:00:00 +01:00", "Hot"))
            (posts / "hot-b.md").write_text(_doc(second, "2025-01-02 10:00:00 +01:00", "Hot"))
            _wait(lambda a=first, b=second: {a, b} <= _titles(feed), process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "fork refused" not in text and "Traceback" not in text
    # The log: one INFO line per scan that did something, no scheduler chatter.
    assert "INFO syndicator.worker: scan:" in text
    assert "apscheduler" not in text
