"""Incremental scans write exactly what a full render of the same state writes.

A long-lived scanner applies random edits one scan at a time (targeted by path, as the watcher
reports them, or by a full walk); after each, a fresh scanner on the same store renders the
whole site into a second folder, and the two folders must be byte-identical.
"""

from __future__ import annotations

import random
from pathlib import Path

from syndicator.announce.announcer import announcing_pipeline
from syndicator.store.database import open_engine

from .conftest import at, differences, paged_config

CATEGORIES = ["News", "Sport", "Culture"]
TAGS = ["a", "b", "c", "d", "e"]


def _write(path: Path, rng: random.Random, n: int) -> None:
    day = rng.randint(1, 28)
    draft = "published: false\n" if rng.random() < 0.15 else ""
    future = rng.random() < 0.1
    date = f"2031-01-{day:02d}" if future else f"2024-0{rng.randint(1, 9)}-{day:02d}"
    categories = rng.sample(CATEGORIES, rng.randint(0, 2))
    tags = rng.sample(TAGS, rng.randint(0, 3))
    path.write_text(
        f"---\ntitle: Doc {n} v{rng.randint(0, 999)}\ndate: {date} 10:00:00\n{draft}"
        f"categories: {categories}\ntags: {tags}\n---\n\nBody {rng.random()}.\n"
    )


def test_random_edits_render_like_a_full_build(tmp_path, store_url):
    content = tmp_path / "_posts"
    content.mkdir()
    rng = random.Random(20261129)
    for n in range(12):
        _write(content / f"doc{n}.md", rng, n)
    engine = open_engine(store_url)
    live = announcing_pipeline(paged_config(content, tmp_path / "out", store_url), engine)
    live.scan(at(0))
    for step in range(1, 40):
        existing = sorted(content.glob("*.md"))
        action = rng.choice(["create", "edit", "edit", "delete", "rename"])
        touched: list[Path] = []
        if action == "create" or not existing:
            n = 100 + step
            touched.append(content / f"doc{n}.md")
            _write(touched[0], rng, n)
        elif action == "edit":
            touched.append(rng.choice(existing))
            _write(touched[0], rng, step)
        elif action == "delete":
            touched.append(rng.choice(existing))
            touched[0].unlink()
        else:
            source = rng.choice(existing)
            target = content / f"renamed{step}.md"
            source.rename(target)
            touched += [source, target]
        paths = None if step % 5 == 0 else {str(p) for p in touched}
        live.scan(at(step * 60), paths=paths)

        full_output = tmp_path / f"full{step}"
        announcing_pipeline(paged_config(content, full_output, store_url), engine).scan(
            at(step * 60)
        )
        assert differences(tmp_path / "out", full_output) == [], f"after step {step} ({action})"
    engine.dispose()
