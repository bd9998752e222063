"""Whether a store is new, told from its URL without the database layer (``build`` starts
reading before importing it): the file must be the one SQLAlchemy opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from syndicator.store.location import known_new, sqlite_file


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/syndicator.db",
        "sqlite:////srv/feeds/store.db",
        "sqlite+pysqlite:///relative/dir/s.db",
        "sqlite:///./here.db",
        "sqlite:///with space/é.db",
    ],
)
def test_the_file_of_a_plain_sqlite_url_is_the_one_sqlalchemy_opens(url):
    assert sqlite_file(url) == Path(make_url(url).database)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file.db?mode=ro",
        "sqlite:///file:store.db?mode=rwc&uri=true",
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg:///test",
    ],
)
def test_any_other_url_names_no_file(url):
    assert sqlite_file(url) is None
    assert not known_new(url)


def test_a_store_is_new_only_while_its_file_does_not_exist(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert known_new(url)
    (tmp_path / "store.db").write_bytes(b"")
    assert not known_new(url)
