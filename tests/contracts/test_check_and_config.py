"""``syndicator check`` names each broken document as ``file:line: error: reason`` and exits
1; a configuration error (file or environment) exits 2 naming the key (README "Commands",
"Configuration")."""

from __future__ import annotations

import pytest

from .conftest import Site


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"---\ntitle: A\n---\n\nCaf\xe9\n", 5, "not valid UTF-8 (byte 0xe9)"),
        (b"---\ntitle: A\ndate: 2024-01-01\n", 1, "front matter has no closing '---' line"),
        (b"---\ntitle: A\ndate: 2024-02-30\n---\nText.\n", 3, "invalid value in YAML front matter"),
        (b"---\ntitle: [A\n---\nText.\n", 3, "invalid YAML front matter"),
        (b"---\n- a\n- b\n---\nText.\n", 1, "front matter must be a mapping"),
        (b"---\ntitle: A\ndate: someday\n---\nText.\n", 3, "date: cannot read 'someday' as a date"),
        (b"---\ntitle: A\ntags: \x00bad\n---\nText.\n", None, None),  # dropped, not an error
    ],
    ids=["utf8", "unclosed", "impossible-date", "yaml", "not-a-mapping", "bad-date", "nul"],
)
def test_check_names_file_line_and_reason(site: Site, data: bytes, line, reason):
    (site.posts / "doc.md").write_bytes(data)
    (site.posts / "good.md").write_text("---\ntitle: Good\ndate: 2024-01-01\n---\nText.\n")
    checked = site.cli("check")
    if reason is None:
        assert checked.code == 0, checked.stderr
        assert "2 documents: 2 published, 0 drafts, 0 scheduled; 0 errors" in checked.stderr
        return
    assert checked.code == 1, checked.stderr
    assert f"doc.md:{line}: error: {reason}" in checked.stderr, checked.stderr
    # The good document is still read, and built.
    assert site.cli("build").code == 1
    assert b"<title>Good</title>" in (site.out / "rss.xml").read_bytes()


def test_a_file_without_front_matter_and_an_impossible_filename_date(site: Site):
    (site.posts / "notes.md").write_text("Just text, no front matter.\n")
    (site.posts / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (site.posts / "2024-02-30-odd.md").write_text("---\ntitle: Odd\n---\nText.\n")
    (site.posts / "2024-03-01-dated.md").write_text("---\ntitle: Dated\n---\nText.\n")
    checked = site.cli("check")
    assert "notes.md" not in checked.stderr and "image.png" not in checked.stderr
    assert site.cli("build").code in (0, 1)
    feed = (site.out / "feed.json").read_text()
    assert '"date_published":"2024-03-01T00:00:00+01:00"' in feed  # from the file name


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"nosuch": {"a": 1}}, "unknown section [nosuch]"),
        ({"feeds": {"max_itemz": 3}}, "unknown key feeds.max_itemz"),
        ({"feeds": {"max_items": "many"}}, "feeds.max_items"),
        ({"feeds": {"max_items": True}}, "feeds.max_items: expected a number"),
        ({"feeds": {"max_items": 0}}, "feeds.max_items: must be at least 1"),
        (
            {"feeds": {"formats": ["rss", "html"]}},
            "feeds.formats: unknown value; use one of ('rss', 'atom', 'json') (got 'html')",
        ),
        ({"feeds": {"formats": 3}}, "feeds.formats: expected a list"),
        ({"feeds": {"full_content": "maybe"}}, "feeds.full_content: expected true or false"),
        ({"feeds": {"full_content": 1}}, "feeds.full_content: expected true or false"),
        ({"site": {"timezone": "Mars/Olympus"}}, "site.timezone: unknown time zone"),
        ({"site": {"base_url": "example.org"}}, "site.base_url: must be an http(s) URL"),
        (
            {"worker": {"role": "everything"}},
            "worker.role: unknown value; use one of ('all', 'scanner', 'deliverer', 'web')",
        ),
        ({"content": {"dirs": []}}, "content.dirs: at least one content folder is needed"),
        ({"content": {"permalinks": "x"}}, "content.permalinks: expected a table"),
    ],
)
def test_configuration_errors_exit_2_naming_the_key(site: Site, sections, message):
    site.configure(**sections)
    built = site.cli("build")
    assert built.code == 2, built.stderr
    assert message in built.stderr


def test_a_section_that_is_not_a_table(site: Site):
    site.config.write_text("worker = 3\n" + site.config.read_text())
    built = site.cli("build")
    assert built.code == 2 and "[worker] must be a table" in built.stderr


def test_environment_overrides_read_toml_literals_and_plain_text(site: Site):
    site.write("a.md", "A", tags="[Paris]", excerpt="Short summary.")
    env = {
        "SYNDICATOR_FEEDS_FORMATS": "json, atom",  # a plain string: comma-separated
        "SYNDICATOR_FEEDS_FULL_CONTENT": "no",
        "SYNDICATOR_SITE_TITLE": "Env title",
        "SYNDICATOR_FEEDS_MAX_ITEMS": "7",
        "SYNDICATOR_NOSUCH_KEY": "ignored",  # not a section: not ours
        "SYNDICATOR_SITE": "no key",
    }
    built = site.run_cli("build", "--config", site.config, cwd=site.root, env=env)
    assert built.code == 0, built.stderr
    assert not (site.out / "rss.xml").exists()
    assert (site.out / "atom.xml").exists() and (site.out / "feed.json").exists()
    assert "Env title" in (site.out / "feed.json").read_text()
    assert "Text of A." not in (site.out / "feed.json").read_text()
    bad = site.run_cli(
        "build", "--config", site.config, cwd=site.root, env={"SYNDICATOR_FEEDS_MAX_ITEMS": "x"}
    )
    assert bad.code == 2 and "feeds.max_items" in bad.stderr


def test_now_must_be_iso(site: Site):
    bad = site.cli("build", "--now", "tomorrow")
    assert bad.code == 2 and "--now: not an ISO 8601 date-time" in bad.stderr
    site.write("a.md", "A", date="2030-01-01")
    assert site.cli("build", "--now", "2030-01-02").code == 0
    assert b"<title>A</title>" in (site.out / "rss.xml").read_bytes()
