"""Fixtures for the store, scanner and worker tests: real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from syndicator.config import Config, with_overrides

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres() -> bool:
    """PostgreSQL must be there in CI; on a laptop without it the PostgreSQL runs are skipped."""
    if _postgres_available():
        return True
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
    pytest.skip("no PostgreSQL on 127.0.0.1:5432")


@pytest.fixture
def postgres_url(postgres: bool) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    name = f"syndicator_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'syndicator.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "_posts"
    folder.mkdir()
    return folder


def make_config(content: Path, output: Path, store_url: str, **push: object) -> Config:
    return with_overrides(
        Config(),
        content={"dirs": [str(content)]},
        output={"dir": str(output)},
        store={"url": store_url},
        site={"base_url": "https://example.org", "title": "Example"},
        **({"push": push} if push else {}),
    )


def document(
    title: str, *, date: str = "2024-01-02 10:00:00 +01:00", extra: str = "", body: str = "Body."
) -> str:
    return f"---\ntitle: {title}\ndate: {date}\n{extra}---\n\n{body}\n"


T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
