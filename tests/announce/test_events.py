"""The event log and item states across scans, on SQLite and on PostgreSQL (docs/contracts/push.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import feedparser
import pytest

from syndicator.announce.announcer import announcing_pipeline
from syndicator.engine.pipeline import Pipeline
from syndicator.store import records
from syndicator.store.database import open_engine
from syndicator.store.records import list_events

from .conftest import at, document, make_config

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "numerique.gouv.fr"


def _scanner(content: Path, tmp_path: Path, store_url: str, **push: object) -> Pipeline:
    config = make_config(content, tmp_path / "out", store_url, **push)
    return announcing_pipeline(config, open_engine(store_url))


def _log(scanner: Pipeline) -> list[tuple[str, str]]:
    with scanner.store.connect() as connection:
        return [(e.type, e.item_key) for e in list_events(connection)]


def _site_ids(tmp_path: Path) -> list[str]:
    return [e.id for e in feedparser.parse(tmp_path / "out" / "atom.xml").entries]


def test_scripted_sequence_gives_exactly_the_expected_log(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))  # empty folder: the baseline
    doc = content / "story.md"
    key = "_posts/story.md"

    doc.write_text(document("Story"))
    scanner.scan(at(1))
    doc.write_text(document("Story", body="Edited once."))
    scanner.scan(at(2))
    doc.write_text(document("Story", body="Edited a second time."))
    scanner.scan(at(3))
    doc.write_text(document("Story", extra="published: false\n", body="Edited a second time."))
    scanner.scan(at(4))
    assert _site_ids(tmp_path) == []
    doc.write_text(document("Story", body="Back again."))
    scanner.scan(at(5))
    assert _site_ids(tmp_path) == ["https://example.org/posts/story/"]
    doc.unlink()
    scanner.scan(at(6))

    assert _log(scanner) == [
        ("item.published", key),
        ("item.updated", key),
        ("item.updated", key),
        ("item.unpublished", key),
        ("item.published", key),
        ("item.unpublished", key),
    ]
    assert _site_ids(tmp_path) == []
    with scanner.store.connect() as connection:
        unpublished = [e for e in list_events(connection) if e.type == "item.unpublished"]
    # What a consumer needs to withdraw the item: the last version it was sent.
    assert [json.loads(e.data)["content_html"] for e in unpublished] == [
        "<p>Edited a second time.</p>",
        "<p>Back again.</p>",
    ]


def test_an_edit_keeps_the_id_and_moves_the_updated_date(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "a.md").write_text(document("A"))
    scanner.scan(at(10))
    first = feedparser.parse(tmp_path / "out" / "atom.xml").entries[0]
    (content / "a.md").write_text(document("A", body="Changed text."))
    scanner.scan(at(20))
    second = feedparser.parse(tmp_path / "out" / "atom.xml").entries[0]
    assert first.id == second.id
    assert second.updated_parsed > first.updated_parsed
    assert second.published == first.published
    assert "Changed text." in second.content[0].value


def test_first_scan_of_an_existing_folder_is_a_baseline(content, tmp_path, store_url):
    for n in range(3):
        (content / f"p{n}.md").write_text(document(f"P{n}"))
    scanner = _scanner(content, tmp_path, store_url)
    result = scanner.scan(at(0))
    assert result.events == []
    assert len(_site_ids(tmp_path)) == 3
    assert _log(scanner) == []


def test_announce_existing_announces_the_first_scan(content, tmp_path, store_url):
    (content / "p.md").write_text(document("P"))
    scanner = _scanner(content, tmp_path, store_url, announce_existing=True)
    scanner.scan(at(0))
    assert _log(scanner) == [("item.published", "_posts/p.md")]


def test_restart_emits_nothing_for_unchanged_items(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "p.md").write_text(document("P"))
    scanner.scan(at(1))
    scanner.store.dispose()
    restarted = _scanner(content, tmp_path, store_url)
    result = restarted.scan(at(2))
    assert result.events == []
    assert result.parsed == 0
    assert _log(restarted) == [("item.published", "_posts/p.md")]


def test_a_back_dated_new_document_is_announced(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "old.md").write_text(document("Old news", date="2009-03-01"))
    result = scanner.scan(at(1))
    assert [e.type for e in result.events] == ["item.published"]
    data = json.loads(result.events[0].data)
    assert data["date_published"].startswith("2009-03-01T00:00:00+01:00")


def test_scheduled_item_is_published_when_its_time_comes(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "later.md").write_text(document("Later", date=at(60).isoformat()))
    result = scanner.scan(at(1))
    assert result.events == []
    assert result.catalog.next_scheduled == at(60)
    assert _site_ids(tmp_path) == []
    result = scanner.scan(at(60))
    assert [e.type for e in result.events] == ["item.published"]
    assert len(_site_ids(tmp_path)) == 1


def test_a_document_that_breaks_keeps_its_last_good_version(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "p.md").write_text(document("Good title"))
    scanner.scan(at(1))
    (content / "p.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    result = scanner.scan(at(2))
    assert result.events == []
    assert [e.title for e in feedparser.parse(tmp_path / "out" / "atom.xml").entries] == [
        "Good title"
    ]
    [error] = result.errors
    assert error.path.endswith("p.md")
    assert error.line == 3
    assert "flow sequence at line 2" in error.message


def test_a_draft_is_never_announced_nor_listed(content, tmp_path, store_url):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "d.md").write_text(document("Draft", extra="published: false\n"))
    result = scanner.scan(at(1))
    assert result.events == []
    assert _site_ids(tmp_path) == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")
def test_real_corpus_baseline_then_one_more_document(tmp_path, store_url):
    content = tmp_path / "_actualites"
    shutil.copytree(CORPUS / "_actualites", content)
    scanner = _scanner(content, tmp_path, store_url)
    baseline = scanner.scan(at(0))
    assert baseline.events == []
    assert len(baseline.catalog.entries) > 100
    newcomer = CORPUS / "_communiques" / "lancement-suite-numerique-collaborative.markdown"
    shutil.copy(newcomer, content / newcomer.name)
    result = scanner.scan(at(1))
    assert [(e.type, e.key) for e in result.events] == [
        ("item.published", f"_actualites/{newcomer.name}")
    ]
    assert result.parsed == 1


def test_a_scan_that_fails_part_way_is_redone_by_the_next(
    content, tmp_path, store_url, monkeypatch
):
    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    (content / "p.md").write_text(document("P"))

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    # The one stand-in: a store write failing half-way through a scan's transaction.
    with monkeypatch.context() as patch:
        patch.setattr(records, "save_items", disk_full)
        with pytest.raises(OSError):
            scanner.scan(at(1))
    assert _log(scanner) == []
    result = scanner.scan(at(2))
    assert [e.type for e in result.events] == ["item.published"]
    assert _site_ids(tmp_path) == ["https://example.org/posts/p/"]


def test_a_filtered_subscription_gets_the_withdrawal_of_what_it_was_sent(
    content, tmp_path, store_url
):
    """The fan-out matches on the slugs an event carries: an item's own when it is visible,
    those of its last announced version when it is withdrawn (made a draft, or deleted)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from syndicator.push import subscriptions as subs
    from syndicator.store.schema import deliveries, events

    scanner = _scanner(content, tmp_path, store_url)
    scanner.scan(at(0))
    wanted = {}
    with scanner.store.begin() as connection:
        for category in ("news", "sport"):
            subscription = subs.new_subscription(
                f"http://127.0.0.1:9/{category}",
                allow_private=True,
                categories=[category],
                event_types=["item.published", "item.unpublished"],
                now=datetime.now(UTC),
            )
            subs.add(connection, subscription)
            wanted[subscription.id] = category
    for name in ("draft", "gone"):
        (content / f"{name}.md").write_text(document(name, extra="categories: [News]\n"))
    scanner.scan(at(1))
    (content / "draft.md").write_text(
        document("draft", extra="categories: [Sport]\npublished: false\n")
    )
    (content / "gone.md").unlink()
    scanner.scan(at(2))

    with scanner.store.connect() as connection:
        rows = connection.execute(
            select(deliveries.c.subscription_id, events.c.type, events.c.item_key).join(
                events, deliveries.c.event_id == events.c.id
            )
        ).all()
    assert sorted((wanted[r.subscription_id], r.type, r.item_key) for r in rows) == [
        ("news", "item.published", "_posts/draft.md"),
        ("news", "item.published", "_posts/gone.md"),
        ("news", "item.unpublished", "_posts/draft.md"),
        ("news", "item.unpublished", "_posts/gone.md"),
    ]
