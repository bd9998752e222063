"""``syndicator build`` and ``check`` as users run them (docs/contracts/output.md, cli.md): exit codes,
configuration, the pages that list the feeds, and rebuilding an existing output folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

REPO = Path(__file__).resolve().parents[2]
ATOM_RNG = REPO / ".." / "shared" / "validators" / "atom.rng"
BASE_URL = "https://example.org"
MEDIA_TYPES = {"rss.xml": "application/rss+xml", "atom.xml": "application/atom+xml"}
MEDIA_TYPES["feed.json"] = "application/feed+json"


def doc(title: str, date: str, extra: str = "") -> str:
    return f"---\ntitle: {title}\ndate: {date}\n{extra}\n---\nText of {title}.\n"


@pytest.fixture
def content(tmp_path: Path, write_doc) -> Path:
    """Three dated documents: two categories, three tags, one shared by all."""
    folder = tmp_path / "_news"
    write_doc(
        folder,
        "a.md",
        doc("A", "2024-01-01 10:00:00 +01:00", "categories: [Cloud]\ntags: [x, all]"),
    )
    write_doc(
        folder, "b.md", doc("B", "2024-02-01 10:00:00 +01:00", "categories: [Cloud]\ntags: [all]")
    )
    write_doc(
        folder,
        "c.md",
        doc("C", "2024-03-01 10:00:00 +01:00", "categories: [Open data]\ntags: [y, all]"),
    )
    return folder


def build(run_cli, tmp_path: Path, content: Path, *extra: str, env=None):
    out = tmp_path / "out"
    args = ["build", "--content", content, "--output", out, *extra]
    if "--base-url" not in extra:
        args += ["--base-url", BASE_URL]
    return run_cli(*args, cwd=tmp_path, env=env)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


# The seed ------------------------------------------------------------------------------------


def test_seeds_build_with_the_default_config_gives_valid_empty_site_feeds(tmp_path: Path):
    """The real console entry point, from a working folder holding the repository's config
    and seeds: the seed is a draft, so the site feeds exist, are valid and have no item."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "build"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    public = tmp_path / "public"
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((public / name).read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries == []
    schema = etree.RelaxNG(etree.parse(str(ATOM_RNG)))
    assert schema.validate(etree.parse(str(public / "atom.xml"))), schema.error_log.last_error
    data = json.loads((public / "feed.json").read_text(encoding="utf-8"))
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["items"] == []
    assert not (public / "categories").exists() and not (public / "tags").exists()
    assert (public / "index.html").is_file() and (public / "feeds.opml").is_file()


def test_build_imports_no_http_or_web_stack(tmp_path: Path, content: Path):
    """``build`` is a one-shot command: the HTTP client of delivery and the web server's stack
    cost it a tenth of its start-up and serve nothing it does (issue 13)."""
    stacks = ("requests", "urllib3", "fastapi", "starlette", "uvicorn")
    script = (
        "import sys; from syndicator.cli import main; code = main(sys.argv[1:]); "
        f"print(sorted(m for m in {stacks!r} if m in sys.modules)); sys.exit(code)"
    )
    args = ["build", "--content", str(content), "--output", str(tmp_path / "out")]
    result = subprocess.run(
        [sys.executable, "-c", script, *args, "--base-url", BASE_URL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_build_into_a_new_store_reads_before_importing_the_database_layer(
    tmp_path: Path, content: Path
):
    """Into a new store every file is read: the reading workers start first and the imports
    and store set-up run beside them, a fifth of a cold build (issue 13). Into a store that
    exists, the store says first which files changed."""
    script = (
        "import sys; import syndicator.parallel as p; p.INLINE_BELOW = 1; "
        "p.workers = lambda: 2; seen = []; fork = p._forked\n"
        "def spy(*args):\n    seen.append('sqlalchemy' in sys.modules); return fork(*args)\n"
        "p._forked = spy; from syndicator.cli import main; code = main(sys.argv[1:]); "
        "print(seen[0]); sys.exit(code)"
    )
    args = ["build", "--content", str(content), "--output", str(tmp_path / "out")]
    args += ["--base-url", BASE_URL]  # the default store, var/syndicator.db, not there yet
    for imported in ("False", "True"):
        result = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == imported


def test_a_build_into_a_new_store_fills_it_without_a_write_ahead_log(
    tmp_path: Path, content: Path, run_cli
):
    """A new store is filled in one transaction by the build alone: a rollback journal
    writes each page once where WAL writes it twice (issue 13). The next command to open it
    turns WAL back on, which a worker's readers beside its writer need."""

    def journal(store: Path) -> str:
        with closing(sqlite3.connect(store)) as connection:
            return connection.execute("PRAGMA journal_mode").fetchone()[0]

    store = tmp_path / "var" / "syndicator.db"
    for expected in ("delete", "wal"):
        result = build(run_cli, tmp_path, content)
        assert result.code == 0, result.stderr
        assert journal(store) == expected


# Rebuilding ----------------------------------------------------------------------------------


def test_a_second_build_without_change_rewrites_no_file(tmp_path: Path, content: Path, run_cli):
    first = build(run_cli, tmp_path, content, "--now", "2025-01-01T00:00:00+01:00")
    assert first.code == 0, first.stderr
    before = snapshot(tmp_path / "out")
    assert len(before) > 20
    # A later clock, and then the real one: nothing that is in a feed has changed.
    for now in (["--now", "2025-06-01T00:00:00+02:00"], []):
        again = build(run_cli, tmp_path, content, *now)
        assert again.code == 0, again.stderr
        assert snapshot(tmp_path / "out") == before


def test_a_build_under_other_settings_reads_unchanged_documents_again(
    tmp_path: Path, content: Path, run_cli
):
    """The store keeps each document's item as read under the settings of the time: a new
    base URL, or full content turned on, must reach the items of files that did not change."""
    config = tmp_path / "site.toml"
    config.write_text("[feeds]\nfull_content = false\n")
    args = ("--config", config.name, "--now", "2025-01-01T00:00:00+01:00")
    assert build(run_cli, tmp_path, content, *args).code == 0
    assert "content:encoded" not in (tmp_path / "out" / "rss.xml").read_text()

    config.write_text("[feeds]\nfull_content = true\n")
    assert build(run_cli, tmp_path, content, *args).code == 0
    rss = feedparser.parse((tmp_path / "out" / "rss.xml").read_bytes())
    assert [e.content[0].value for e in rss.entries] == [f"<p>Text of {n}.</p>" for n in "CBA"]

    result = build(run_cli, tmp_path, content, *args, "--base-url", "https://new.example")
    assert result.code == 0, result.stderr
    feed = json.loads((tmp_path / "out" / "feed.json").read_text(encoding="utf-8"))
    assert [i["url"] for i in feed["items"]] == [
        f"https://new.example/news/{name}/" for name in "cba"
    ]


def test_feed_updated_is_the_newest_item_not_the_build_time(tmp_path: Path, content, run_cli):
    assert build(run_cli, tmp_path, content, "--now", "2025-01-01T00:00:00+01:00").code == 0
    out = tmp_path / "out"
    atom = feedparser.parse((out / "atom.xml").read_bytes())
    assert datetime.fromisoformat(atom.feed.updated) == datetime.fromisoformat(
        "2024-03-01T10:00:00+01:00"
    )
    cloud = feedparser.parse((out / "categories" / "cloud" / "atom.xml").read_bytes())
    assert datetime.fromisoformat(cloud.feed.updated) == datetime.fromisoformat(
        "2024-02-01T10:00:00+01:00"
    )
    rss = etree.parse(str(out / "rss.xml"))
    assert rss.findtext("channel/lastBuildDate") == "Fri, 01 Mar 2024 10:00:00 +0100"


def test_a_feed_whose_last_item_goes_disappears_but_other_files_stay(
    tmp_path: Path, content: Path, run_cli, write_doc
):
    out = tmp_path / "out"
    assert build(run_cli, tmp_path, content).code == 0
    write_doc(out, "robots.txt", "User-agent: *\n")
    write_doc(out, "tags/x/notes.txt", "kept by hand\n")
    write_doc(out, "custom/page.html", "<p>mine</p>\n")
    assert (out / "tags" / "x" / "atom.xml").is_file()
    (content / "a.md").unlink()
    result = build(run_cli, tmp_path, content)
    assert result.code == 0, result.stderr
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert not (out / "tags" / "x" / name).exists()
        assert (out / "tags" / "y" / name).is_file()
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert (out / "tags" / "x" / "notes.txt").is_file()
    assert (out / "custom" / "page.html").is_file()
    assert "tags/x/" not in (out / "index.html").read_text(encoding="utf-8")
    cloud = json.loads((out / "categories" / "cloud" / "feed.json").read_text(encoding="utf-8"))
    assert [i["title"] for i in cloud["items"]] == ["B"]
    leftovers = [p.name for p in out.rglob(".*") if p.name != ".syndicator-manifest"]
    assert leftovers == []


# Exit codes and configuration ----------------------------------------------------------------


def test_content_errors_exit_1_and_every_other_feed_is_written(
    tmp_path: Path, content: Path, run_cli, write_doc
):
    write_doc(content, "broken.md", "---\ntitle: [broken\ntags: [x]\n---\n")
    result = build(run_cli, tmp_path, content)
    assert result.code == 1
    assert "broken.md" in result.stderr
    out = tmp_path / "out"
    titles = [e.title for e in feedparser.parse((out / "atom.xml").read_bytes()).entries]
    assert titles == ["C", "B", "A"]
    assert (out / "tags" / "x" / "atom.xml").is_file()


@pytest.mark.parametrize(
    ("config", "flags"),
    [
        (None, ["--config", "missing.toml"]),
        ('[site]\ntitel = "typo"\n', []),
        ('[sight]\ntitle = "typo"\n', []),
        ("[feeds]\nmax_items = 0\n", []),
        ('[feeds]\nmax_items = "many"\n', []),
        ("[site\n", []),
        ('[site]\ntimezone = "Mars/Olympus"\n', []),
        (None, ["--now", "tomorrow"]),
        (None, ["--base-url", "example.org"]),
        (None, ["--no-such-flag"]),
    ],
)
def test_usage_and_configuration_errors_exit_2(tmp_path: Path, content, run_cli, config, flags):
    if config is not None:
        (tmp_path / "bad.toml").write_text(config, encoding="utf-8")
        flags = ["--config", "bad.toml", *flags]
    result = build(run_cli, tmp_path, content, *flags)
    assert result.code == 2, result.stderr
    assert result.stderr.strip()
    assert not (tmp_path / "out").exists()


def test_a_missing_content_folder_is_a_usage_error(tmp_path: Path, run_cli):
    result = build(run_cli, tmp_path, tmp_path / "nowhere")
    assert result.code == 2
    assert "nowhere" in result.stderr


def test_environment_overrides_the_config_file_and_flags_override_both(
    tmp_path: Path, content: Path, run_cli
):
    (tmp_path / "site.toml").write_text('[site]\nbase_url = "https://file.example"\n')
    env = {"SYNDICATOR_SITE_BASE_URL": "https://env.example", "SYNDICATOR_FEEDS_MAX_ITEMS": "1"}
    out = tmp_path / "out"
    args = ["build", "--config", "site.toml", "--content", content, "--output", out]
    result = run_cli(*args, cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    data = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert data["feed_url"] == "https://env.example/feed.json"
    assert [i["url"] for i in data["items"]] == ["https://env.example/news/c/"]
    result = run_cli(*args, "--base-url", "https://flag.example", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    data = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert data["feed_url"] == "https://flag.example/feed.json"


def test_check_reports_errors_and_writes_nothing(tmp_path: Path, content: Path, run_cli, write_doc):
    assert run_cli("check", "--content", content, cwd=tmp_path).code == 0
    write_doc(content, "broken.md", "---\ntitle: [broken\n---\n")
    result = run_cli("check", "--content", content, cwd=tmp_path)
    assert result.code == 1
    assert re.search(r"broken\.md:[23]: error: invalid YAML", result.stderr), result.stderr
    assert not (tmp_path / "public").exists()


# The pages that list the feeds ---------------------------------------------------------------


def built_feeds(out: Path) -> set[str]:
    """Relative paths of every subscription feed file in ``out`` (archives left out)."""
    return {
        p.relative_to(out).as_posix()
        for name in MEDIA_TYPES
        for p in out.rglob(name)
        if "archive" not in p.relative_to(out).parts
    }


def test_each_page_autodiscovers_its_own_feeds_only(tmp_path: Path, content, run_cli):
    """The directory names the site feeds; a category's or tag's page names its own (a reader
    given the site's address would otherwise offer every feed of the site)."""
    assert build(run_cli, tmp_path, content).code == 0
    out = tmp_path / "out"
    feeds = built_feeds(out)
    assert len(feeds) == 3 * (1 + 2 + 3)
    folders = {path.rpartition("/")[0] for path in feeds}
    for folder in folders:
        page = lxml_html.parse(str(out / folder / "index.html"))
        links = page.xpath("//head/link[@rel='alternate']")
        found = {link.get("href").removeprefix(f"{BASE_URL}/"): link.get("type") for link in links}
        own = {p for p in feeds if p.rpartition("/")[0] == folder}
        assert len(links) == len(own) == 3
        assert found == {path: MEDIA_TYPES[path.rsplit("/", 1)[-1]] for path in own}
        assert all(link.get("title") for link in links)


def test_feeds_opml_parses_and_lists_every_feed(tmp_path: Path, content, run_cli):
    assert build(run_cli, tmp_path, content).code == 0
    out = tmp_path / "out"
    opml = etree.parse(str(out / "feeds.opml")).getroot()
    assert opml.tag == "opml"
    outlines = opml.findall(".//outline[@xmlUrl]")
    urls = [o.get("xmlUrl").removeprefix(f"{BASE_URL}/") for o in outlines]
    assert len(urls) == len(set(urls)) == 1 + 2 + 3
    folders = {u.rsplit("/", 1)[0] if "/" in u else "" for u in urls}
    assert folders == {
        "",
        "categories/cloud",
        "categories/open-data",
        "tags/x",
        "tags/y",
        "tags/all",
    }
    for url, outline in zip(urls, outlines, strict=True):
        assert (out / url).is_file()
        assert outline.get("text")
