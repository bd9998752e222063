"""Catalog stage: the parsed items → what is visible now, and which feed holds what.

Pure: the clock (``now``) and what the store remembers (first-seen and updated times) come in
as arguments, so a test can replay any moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from syndicator.content.items import Item, Problem
from syndicator.content.slugs import slugify

State = Literal["draft", "scheduled", "published"]
FeedKind = Literal["site", "category", "tag"]


@dataclass(frozen=True, slots=True)
class Entry:
    """An item placed in time: when it was published and when it last changed."""

    item: Item
    published: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One logical feed; ``path`` is its folder below the output root ("" for the site)."""

    kind: FeedKind
    slug: str
    name: str
    path: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Catalog:
    entries: tuple[Entry, ...]
    feeds: tuple[FeedSpec, ...]
    states: Mapping[str, State]
    next_scheduled: datetime | None
    problems: tuple[Problem, ...] = field(default=())


def item_state(item: Item, published: datetime, now: datetime) -> State:
    if item.draft:
        return "draft"
    return "scheduled" if published > now else "published"


def build_catalog(
    items: Iterable[Item],
    *,
    now: datetime,
    first_seen: Mapping[str, datetime],
    updated_at: Mapping[str, datetime] | None = None,
) -> Catalog:
    """Place every item, drop duplicate IDs (first path wins), group the visible into feeds.

    ``items`` must come in key (path) order: that order decides which duplicate is kept.
    """
    updated_at = updated_at or {}
    states: dict[str, State] = {}
    kept: dict[str, Item] = {}
    problems: list[Problem] = []
    visible: list[Entry] = []
    next_scheduled: datetime | None = None
    for item in items:
        published = item.date or first_seen.get(item.key) or now
        state = item_state(item, published, now)
        states[item.key] = state
        if state == "draft":
            continue
        if item.id in kept:
            problems.append(
                Problem(
                    item.key,
                    None,
                    f"same id as {kept[item.id].key} ({item.id}); this one is left out",
                )
            )
            states[item.key] = "draft"
            continue
        kept[item.id] = item
        if state == "scheduled":
            next_scheduled = published if next_scheduled is None else min(next_scheduled, published)
            continue
        updated = max(published, updated_at.get(item.key, published))
        visible.append(Entry(item, published, updated))
    visible.sort(key=lambda e: (e.published, e.item.key), reverse=True)
    entries = tuple(visible)
    return Catalog(entries, _feeds(entries), states, next_scheduled, tuple(problems))


def _feeds(entries: tuple[Entry, ...]) -> tuple[FeedSpec, ...]:
    site = FeedSpec("site", "", "", "", entries)
    return (site, *_grouped(entries, "category"), *_grouped(entries, "tag"))


def _grouped(entries: tuple[Entry, ...], kind: Literal["category", "tag"]) -> list[FeedSpec]:
    members: dict[str, list[Entry]] = {}
    names: dict[str, Counter[str]] = {}
    for entry in reversed(entries):  # oldest first, so a tie goes to the older spelling
        for name in entry.item.categories if kind == "category" else entry.item.tags:
            slug = slugify(name)
            members.setdefault(slug, []).append(entry)
            names.setdefault(slug, Counter())[name] += 1
    folder = "categories" if kind == "category" else "tags"
    return [
        FeedSpec(
            kind,
            slug,
            names[slug].most_common(1)[0][0],
            f"{folder}/{slug}",
            tuple(reversed(members[slug])),
        )
        for slug in sorted(members)
    ]
