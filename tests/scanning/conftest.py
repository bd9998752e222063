"""Fixtures for the store, scanner and worker tests: real SQLite files and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.config import Config, with_overrides


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
