"""Fixtures for the store, scanner and worker tests: real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import filecmp
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


def paged_config(content: Path, output: Path, store_url: str) -> Config:
    """Three items a page, so that a few documents already make archives."""
    return with_overrides(
        Config(),
        site={"base_url": "https://example.org"},
        content={"dirs": [str(content)]},
        output={"dir": str(output)},
        store={"url": store_url},
        feeds={"max_items": 3},
    )


def differences(left: Path, right: Path) -> list[str]:
    """Every file that is only in one folder or differs between them (hidden files aside)."""
    found: list[str] = []

    def walk(compare: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(
            f"only in {left.name}: {prefix}{n}" for n in compare.left_only if not n.startswith(".")
        )
        found.extend(
            f"only in {right.name}: {prefix}{n}"
            for n in compare.right_only
            if not n.startswith(".")
        )
        _, mismatch, errors = filecmp.cmpfiles(
            left / prefix, right / prefix, compare.common_files, shallow=False
        )
        found.extend(f"differs: {prefix}{n}" for n in mismatch + errors if not n.startswith("."))
        for name, sub in compare.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right), "")
    return found
