"""``build``, ``check`` and ``run`` see one catalog: they run the same pipeline.

A folder with drafts, a scheduled item, undated documents and two documents sharing an ID is
put through the three commands' paths (the CLI for ``build`` and ``check``, the worker's own
scan for ``run``); their catalogs (states, dates, feeds, problems) must be equal, and ``check``
must print ``build``'s summary line. Run again later on the store ``build`` left, ``check``
still dates the undated documents as ``build`` did (first-seen times come from the store).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.announce.announcer import announcing_pipeline
from syndicator.catalog import LiveCatalog
from syndicator.config import Config, with_overrides
from syndicator.engine.pipeline import Pipeline
from syndicator.store.database import open_engine, open_existing
from syndicator.vocabulary import Role
from syndicator.worker.service import Worker

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _folder(root: Path) -> Path:
    posts = root / "_posts"
    posts.mkdir()
    docs = {
        "2024-01-01-dated.md": "title: Dated\ndate: 2024-01-01 10:00:00 +01:00\ntags: [a, b]",
        "2024-02-01-second.md": "title: Second\ndate: 2024-02-01 10:00:00 +01:00\ncategories: [News]",
        "draft.md": "title: Draft\ndate: 2024-03-01 10:00:00 +01:00\npublished: false",
        "future.md": "title: Future\ndate: 2030-01-01 10:00:00 +01:00\ncategories: [News]",
        "undated.md": "title: Undated\ntags: [a]",
        "undated-too.md": "title: Undated too",
        "one.md": "title: One\nid: same\ndate: 2024-04-01 10:00:00 +01:00",
        "two.md": "title: Two\nid: same\ndate: 2024-04-02 10:00:00 +01:00",
        "broken.md": "title: [unclosed",
    }
    for name, meta in docs.items():
        (posts / name).write_text(f"---\n{meta}\n---\n\nText.\n")
    return posts


def _config(root: Path, posts: Path, output: str) -> Config:
    return with_overrides(
        Config(),
        content={"dirs": [str(posts)]},
        output={"dir": str(root / output)},
        store={"url": f"sqlite:///{root / 'var' / 's.db'}"},
        site={"base_url": "https://example.org"},
        schedule={"watch": False, "scan_interval_seconds": 3600},
        server={"port": 0},
    )


def _shape(catalog: LiveCatalog) -> object:
    entries = {k: (e.published, e.updated) for k, e in catalog.entries.items()}
    feeds = [(f.path, f.name, f.size) for f in catalog.feeds]
    return dict(catalog.states), entries, feeds, [str(p) for p in catalog.problems]


def test_build_check_and_run_agree(tmp_path, run_cli):
    posts = _folder(tmp_path)
    # What build runs, on a fresh store; what check runs, with no store yet.
    build_config = _config(tmp_path, posts, "out")
    store = open_engine(build_config.store.url)
    built = announcing_pipeline(build_config, store, keep_cache=False).scan(NOW)
    store.dispose()
    checked = Pipeline(_config(tmp_path, posts, "unused"), None, render=False).scan(NOW)
    # What run does: the worker's own scan, on a second fresh store, at the same clock.
    run_root = tmp_path / "run"
    run_root.mkdir()
    run_config = _config(run_root, posts, "out")
    worker = Worker(
        run_config, open_engine(run_config.store.url), role=Role.SCANNER, clock=lambda: NOW
    )
    ran = worker.scan()
    worker.engine.dispose()
    assert ran is not None

    assert _shape(built.catalog) == _shape(checked.catalog) == _shape(ran.catalog)
    states = sorted(built.catalog.states.values())
    assert states.count("draft") == 1 and states.count("scheduled") == 1
    assert states.count("duplicate") == 1 and states.count("published") == 5
    assert built.summary() == checked.summary() == ran.summary()
    assert not (tmp_path / "unused").exists()


def test_check_prints_builds_summary_and_reads_its_store(tmp_path, run_cli):
    posts = _folder(tmp_path)
    common = ["--content", str(posts)]
    now = NOW.isoformat()
    env = {"SYNDICATOR_STORE_URL": f"sqlite:///{tmp_path / 'var' / 's.db'}"}
    before = run_cli("check", *common, "--now", now, cwd=tmp_path, env=env)
    build = run_cli(
        "build", *common, "--output", tmp_path / "out", "--now", now, cwd=tmp_path, env=env
    )
    later = (NOW + timedelta(hours=1)).isoformat()
    after = run_cli("check", *common, "--now", later, cwd=tmp_path, env=env)
    line = "9 documents: 5 published, 1 drafts, 1 scheduled"
    assert build.code == before.code == after.code == 1  # broken.md is an error
    for result in (build, before, after):
        lines = result.stderr.splitlines()
        summary = [text for text in lines if text.startswith("9 documents")]
        assert summary == [text for text in lines if text.startswith(line)] != []
    # An hour later, the undated documents keep the date build gave them (from the store).
    store = open_existing(env["SYNDICATOR_STORE_URL"])
    assert store is not None
    config = _config(tmp_path, posts, "unused")
    catalog = Pipeline(config, store, render=False).scan(NOW + timedelta(hours=1)).catalog
    store.dispose()
    assert catalog.entries["_posts/undated.md"].published == NOW


@pytest.mark.parametrize("command", ["build", "check"])
def test_summary_line_counts_every_state(tmp_path, run_cli, command):
    posts = _folder(tmp_path)
    args = [command, "--content", posts, "--now", NOW.isoformat()]
    if command == "build":
        args += ["--output", tmp_path / "out"]
    result = run_cli(*args, cwd=tmp_path)
    assert "9 documents: 5 published, 1 drafts, 1 scheduled;" in result.stderr
