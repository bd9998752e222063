"""An item's version, computed where it is read, is the one its stored form gives back.

A scanner that starts again loads its items from the store; were their versions different
from those the first scanner recorded, every item would be announced as updated.
"""

from __future__ import annotations

from syndicator.announce.announcer import announcing_pipeline
from syndicator.store import forms, records
from syndicator.store.database import open_engine

from .conftest import at, document, make_config


def test_loaded_versions_are_those_recorded_when_read(tmp_path, store_url):
    content = tmp_path / "_posts"
    content.mkdir()
    (content / "a.md").write_text(document("Été “à l’œuvre”", extra="tags: [Données]\n"))
    (content / "b.md").write_text(document("Plain", body="Just *ASCII*."))
    (content / "broken.md").write_text("---\ntitle: [unclosed\n---\n\nBody.\n")
    config = make_config(content, tmp_path / "out", store_url)
    engine = open_engine(store_url)
    first = announcing_pipeline(config, engine)
    first.scan(at(0))
    with engine.connect() as connection:
        stored = {key: r.version for key, r in records.load_items(connection).items()}
        loaded = records.load_documents(connection)

    assert stored.keys() == {"_posts/a.md", "_posts/b.md"}
    for key, record in loaded.items():
        expected = forms.item_version(record.item) if record.item else ""
        assert record.version == expected == stored.get(key, ""), key

    # A scanner started again finds nothing changed.
    again = announcing_pipeline(config, engine).scan(at(60))
    engine.dispose()
    assert again.events == [] and again.report.written == []


def test_storing_an_item_leaves_its_strings_as_they_were(tmp_path, store_url):
    """The stored form is the JSON orjson writes for the item (so versions recorded before
    stay valid), and a scan that stores and announces it attaches no UTF-8 copy to the item's
    own strings (``sys.getsizeof`` counts one): the process that saves every document holds
    every item, and 100,000 bodies' copies were 370 MB."""
    import sys

    import orjson

    content = tmp_path / "_posts"
    content.mkdir()
    (content / "a.md").write_text(document("Été “à l’œuvre”", body="Un “corps” d’article."))
    config = make_config(content, tmp_path / "out", store_url)
    pipeline = announcing_pipeline(config, open_engine(store_url))
    pipeline.scan(at(0))
    item = pipeline.catalog.entries["_posts/a.md"].item

    for text in (item.title, item.summary_html, item.content_html):
        assert sys.getsizeof(text) == sys.getsizeof("".join((text, ""))), text
    assert forms.encode_item(item) == orjson.dumps(item)
