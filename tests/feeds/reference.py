"""What the feeds of a content folder must hold, worked out from docs/contracts/content.md without our code.

A second, deliberately plain reading of the rules (PyYAML, python-slugify and dateutil used
directly), so a test can compare the built feeds with it instead of with syndicator's own
idea of them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from dateutil import parser as dateutil_parser
from slugify import slugify as python_slugify

PARIS = ZoneInfo("Europe/Paris")
FENCE = re.compile(r"^---\s*$", re.MULTILINE)
DATE_PREFIX = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")


def slug(name: str) -> str:
    return python_slugify(re.sub("['’‘ʼ]", "", name))


def archive_pages(size: int, max_items: int = 50) -> int:
    """Full pages of the oldest items beside the newest ``max_items``, published only when
    there are two or more: a lone archive would have no neighbouring archive to link."""
    full = max(0, size - 1) // max_items
    return full if full >= 2 else 0


def reachable(members: list[Expected], max_items: int = 50) -> list[Expected]:
    """The items a client walking the archives finds (``members`` newest first)."""
    return members if archive_pages(len(members), max_items) else members[:max_items]


@dataclass(frozen=True)
class Expected:
    key: str
    link: str
    published: datetime
    categories: frozenset[str]
    tags: frozenset[str]
    # (feed folder, the name as this document writes it), for the feed titles.
    names: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Broken:
    path: Path
    line: int


@dataclass
class Site:
    items: list[Expected]
    broken: list[Broken]
    # Keys of documents left out because an earlier one has their ID (an error, exit 1).
    duplicates: list[str]

    def titles(self) -> dict[str, str]:
        """Feed folder → the display form most of its documents use, where one form wins."""
        forms: dict[str, Counter[str]] = defaultdict(Counter)
        for item in self.items:
            for folder, name in item.names:
                forms[folder][name] += 1
        titles = {}
        for folder, counts in forms.items():
            ranked = counts.most_common(2)
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                titles[folder] = ranked[0][0]
        return titles

    def feeds(self) -> dict[str, list[Expected]]:
        """Feed folder ("" for the site) → its items, newest first."""
        members: dict[str, list[Expected]] = defaultdict(list)
        for item in sorted(self.items, key=lambda i: i.published, reverse=True):
            members[""].append(item)
            for name in item.categories:
                members[f"categories/{name}"].append(item)
            for name in item.tags:
                members[f"tags/{name}"].append(item)
        return dict(members)


def _files(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found.append((f"{folder.name}/{relative.as_posix()}", path))
    return found


def _names(meta: dict, keys: tuple[str, str]) -> dict[str, str]:
    """Slug → the first display form this document gives it."""
    value = meta.get(keys[0]) or meta.get(keys[1])
    if value is None:
        return {}
    parts = value.split(",") if isinstance(value, str) else value
    found: dict[str, str] = {}
    for part in parts:
        name = " ".join(str(part).split())
        if slug(name):
            found.setdefault(slug(name), name)
    return found


def _date(meta: dict, filename: str, now: datetime) -> datetime:
    value = meta.get("date")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=PARIS)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=PARIS)
    if isinstance(value, str) and value.strip():
        parsed = dateutil_parser.parse(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=PARIS)
    match = DATE_PREFIX.match(filename)
    if match:
        return datetime(*(int(g) for g in match.groups()), tzinfo=PARIS)
    return now


def read_site(folders: list[Path], base_url: str, now: datetime) -> Site:
    items: list[Expected] = []
    broken: list[Broken] = []
    duplicates: list[str] = []
    claimed: set[str] = set()
    every = sorted((key, path) for folder in folders for key, path in _files(folder))
    for key, path in every:
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        if not data.startswith(b"---"):
            continue
        text = data.decode("utf-8").replace("\r\n", "\n")
        parts = FENCE.split(text, maxsplit=2)
        try:
            meta = yaml.safe_load(parts[1]) or {}
        except yaml.MarkedYAMLError as exc:
            # parts[1] starts right after the opening fence, on the fence's own line.
            broken.append(Broken(path, exc.problem_mark.line + 1))
            continue
        if meta.get("published") is False:
            continue
        filename = path.name
        stem = DATE_PREFIX.sub("", filename.rsplit(".", 1)[0] if "." in filename else filename)
        if meta.get("permalink"):
            link = f"{base_url}/{str(meta['permalink']).lstrip('/')}"
        else:
            collection = key.split("/", 1)[0].removeprefix("_")
            link = f"{base_url}/{collection}/{slug(str(meta.get('slug') or stem))}/"
        # First in path order wins an ID; drafts (skipped above) claim none, while a scheduled
        # document keeps its ID for the day it is published.
        identity = str(meta.get("id") or meta.get("guid") or link)
        if identity in claimed:
            duplicates.append(key)
            continue
        claimed.add(identity)
        published = _date(meta, filename, now)
        if published > now:
            continue
        categories = _names(meta, ("categories", "category"))
        tags = _names(meta, ("tags", "tag"))
        names = [(f"categories/{k}", v) for k, v in categories.items()]
        names += [(f"tags/{k}", v) for k, v in tags.items()]
        items.append(
            Expected(key, link, published, frozenset(categories), frozenset(tags), tuple(names))
        )
    return Site(items, broken, duplicates)
