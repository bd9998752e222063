"""docs/contracts/content.md dates, drafts and scheduled documents, read back from the built feeds."""

from __future__ import annotations

from datetime import datetime

import pytest

from .helpers import Site, doc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # YAML datetime with an offset: kept as written.
        ("2024-03-01 10:00:00 +05:00", "2024-03-01T10:00:00+05:00"),
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00"),
        # Date only: midnight in the site time zone (Paris, winter).
        ("2024-03-01", "2024-03-01T00:00:00+01:00"),
        # Strings, quoted so YAML leaves them alone.
        ('"2024-03-01T10:00:00+02:00"', "2024-03-01T10:00:00+02:00"),
        ('"March 1, 2024 10:00"', "2024-03-01T10:00:00+01:00"),
        ("'2024-07-14 08:30'", "2024-07-14T08:30:00+02:00"),
        # Naive YAML datetime: the site time zone, with its summer offset.
        ("2024-07-14 08:30:00", "2024-07-14T08:30:00+02:00"),
    ],
)
def test_each_date_form(site: Site, value: str, expected: str):
    site.add("post.md", doc(f"title: Post\ndate: {value}"))
    built = site.build()
    assert built.code == 0, built.stderr
    item = built.items()["Post"]
    assert item["date_published"] == expected
    atom_published = built.entries()["Post"].published
    assert datetime.fromisoformat(atom_published) == datetime.fromisoformat(expected)


def test_naive_times_are_read_in_the_configured_site_time_zone(site: Site):
    site.config('[site]\ntimezone = "America/New_York"\n')
    site.add("naive.md", doc("title: Naive\ndate: 2024-01-15 10:00:00"))
    site.add("day.md", doc("title: Day\ndate: 2024-07-04"))
    site.add("aware.md", doc("title: Aware\ndate: 2024-01-15 10:00:00 +01:00"))
    items = site.build().items()
    assert items["Naive"]["date_published"] == "2024-01-15T10:00:00-05:00"
    assert items["Day"]["date_published"] == "2024-07-04T00:00:00-04:00"
    assert items["Aware"]["date_published"] == "2024-01-15T10:00:00+01:00"


def test_missing_date_comes_from_the_file_name_prefix(site: Site):
    site.add("2023-11-05-from-name.md", doc("title: From name"))
    site.add("2018-07-3-short-day.md", doc("title: Short day"))
    site.add("2023-11-05-front-matter-wins.md", doc("title: Front\ndate: 2020-01-01"))
    items = site.build().items()
    assert items["From name"]["date_published"] == "2023-11-05T00:00:00+01:00"
    assert items["Short day"]["date_published"] == "2018-07-03T00:00:00+02:00"
    assert items["Front"]["date_published"] == "2020-01-01T00:00:00+01:00"


def test_missing_date_without_prefix_is_the_first_build_time_and_stays(site: Site):
    site.add("undated.md", doc("title: Undated"))
    first = site.build(now="2025-02-01T09:00:00+01:00").items()
    assert first["Undated"]["date_published"] == "2025-02-01T09:00:00+01:00"
    second = site.build(now="2025-03-01T09:00:00+01:00").items()
    published = datetime.fromisoformat(second["Undated"]["date_published"])
    assert published == datetime.fromisoformat("2025-02-01T09:00:00+01:00")


@pytest.mark.parametrize("flag", ["false", "False", "no"])
def test_a_draft_is_in_no_feed(site: Site, flag: str):
    site.add("public.md", doc("title: Public\ndate: 2024-01-01\ncategories: [News]\ntags: [t]"))
    site.add(
        "draft.md",
        doc(f"title: Draft\ndate: 2024-01-02\npublished: {flag}\ncategories: [Secret]\ntags: [t]"),
    )
    built = site.build()
    assert built.code == 0, built.stderr
    assert set(built.items()) == {"Public"}
    assert set(built.items("tags/t/feed.json")) == {"Public"}
    assert not (built.out / "categories" / "secret").exists()
    assert "Draft" not in (built.out / "atom.xml").read_text(encoding="utf-8")


def test_published_true_is_not_a_draft(site: Site):
    site.add("public.md", doc("title: Public\ndate: 2024-01-01\npublished: true"))
    assert set(site.build().items()) == {"Public"}


def test_a_future_document_appears_only_once_now_reaches_its_date(site: Site):
    site.add("past.md", doc("title: Past\ndate: 2024-12-31 10:00:00 +01:00\ntags: [soon]"))
    site.add("future.md", doc("title: Future\ndate: 2025-06-01 10:00:00 +02:00\ntags: [soon]"))
    before = site.build(now="2025-06-01T09:59:00+02:00")
    assert before.code == 0, before.stderr
    assert set(before.items()) == {"Past"}
    assert set(before.items("tags/soon/feed.json")) == {"Past"}
    after = site.build(now="2025-06-01T10:00:00+02:00")
    assert list(after.items()) == ["Future", "Past"]
    assert list(after.items("tags/soon/feed.json")) == ["Future", "Past"]
