"""A small site in ``tmp_path``, built by the real command line and read back from its feeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser

BASE_URL = "https://example.org"
NOW = "2025-01-01T12:00:00+01:00"


def parse_feed(data: bytes) -> feedparser.FeedParserDict:
    """feedparser without its own clean-up, which would hide unsafe HTML or relative links."""
    return feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)


@dataclass(frozen=True)
class Built:
    """One build: exit code, stderr, and the output folder to read feeds from."""

    code: int
    stderr: str
    out: Path

    def json(self, path: str = "feed.json") -> dict[str, Any]:
        return json.loads((self.out / path).read_text(encoding="utf-8"))

    def feed(self, path: str) -> feedparser.FeedParserDict:
        """An RSS or Atom document as feedparser reads it; it must parse cleanly."""
        parsed = parse_feed((self.out / path).read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        return parsed

    def atom(self, path: str = "atom.xml") -> feedparser.FeedParserDict:
        return self.feed(path)

    def rss(self, path: str = "rss.xml") -> feedparser.FeedParserDict:
        return self.feed(path)

    def items(self, path: str = "feed.json") -> dict[str, dict[str, Any]]:
        """JSON Feed items by title, the easiest handle in a test."""
        return {item["title"]: item for item in self.json(path)["items"]}

    def entries(self, path: str = "atom.xml") -> dict[str, Any]:
        """Atom entries by title, as feedparser reads them."""
        return {entry.title: entry for entry in self.atom(path).entries}


class Site:
    """Documents under ``root/_news`` (more folders on demand), an optional config file."""

    def __init__(self, root: Path, write_doc: Callable[..., Path], run_cli: Callable[..., Any]):
        self.root = root
        self.content = root / "_news"
        self.content.mkdir()
        self.out = root / "out"
        self.config_path: Path | None = None
        self._write_doc = write_doc
        self._run_cli = run_cli

    def add(self, name: str, text: str | bytes, folder: Path | None = None) -> Path:
        return self._write_doc(folder or self.content, name, text)

    def config(self, toml: str) -> None:
        self.config_path = self.root / "syndicator.toml"
        self.config_path.write_text(toml, encoding="utf-8")

    def build(
        self,
        *extra: str,
        now: str | None = NOW,
        content: tuple[Path, ...] | None = None,
        base_url: str = BASE_URL,
    ) -> Built:
        args: list[str | Path] = ["build", "--output", self.out, "--base-url", base_url]
        if self.config_path is not None:
            args += ["--config", self.config_path]
        for folder in content or (self.content,):
            args += ["--content", folder]
        if now is not None:
            args += ["--now", now]
        result = self._run_cli(*args, *extra, cwd=self.root)
        return Built(result.code, result.stderr, self.out)


def doc(front_matter: str, body: str = "Body.\n") -> str:
    """A document's text from its front-matter lines (without the ``---`` fences)."""
    return f"---\n{front_matter.strip()}\n---\n{body}"
