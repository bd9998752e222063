"""Catalog stage: the parsed items → what is visible now, and which feed holds what.

The catalog is kept current by applying changes (``apply``), never rebuilt: a worker's scan
after one edit costs what that edit touches, not the size of the site. Each ``apply`` returns
a ``Delta`` saying which items changed state and which positions of which feeds moved, so the
renderer redoes only those pages. Pure: the clock and what the store remembers (first-seen and
updated times) come in as arguments.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from syndicator.content.items import Item, Problem
from syndicator.content.slugs import name_slug
from syndicator.vocabulary import FEED_KIND_FOLDERS, FeedKind

State = Literal["draft", "scheduled", "published", "duplicate"]
# (published, key): the order of a feed, oldest first; the key breaks ties deterministically.
Position = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class Entry:
    """An item placed in time: when it was published and when it last changed."""

    item: Item
    published: datetime
    updated: datetime

    @property
    def position(self) -> Position:
        return (self.published, self.item.key)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One logical feed; ``path`` is its folder below the output root ("" for the site)."""

    kind: FeedKind
    slug: str
    name: str
    path: str
    size: int


@dataclass
class _Feed:
    kind: FeedKind
    slug: str
    names: Counter[str] = field(default_factory=Counter)
    order: list[Position] = field(default_factory=list)


@dataclass
class Delta:
    """What one ``apply`` changed.

    ``keys``: items whose state or entry changed. ``shifted``: feed path → lowest index (oldest
    first) where an item came, went or moved; every page from there on changes. ``touched``:
    feed path → positions edited in place (their pages change, no other). ``listing``: the set
    of feeds, their names or sizes changed (index.html, OPML).
    """

    keys: set[str] = field(default_factory=set)
    shifted: dict[str, int] = field(default_factory=dict)
    touched: dict[str, set[Position]] = field(default_factory=dict)
    listing: bool = False

    @property
    def feeds(self) -> set[str]:
        return set(self.shifted) | set(self.touched)

    def shift(self, path: str, index: int) -> None:
        self.shifted[path] = min(index, self.shifted.get(path, index))
        self.listing = True


def item_state(item: Item, published: datetime, now: datetime) -> State:
    if item.draft:
        return "draft"
    return "scheduled" if published > now else "published"


def _feed_path(kind: FeedKind, slug: str) -> str:
    return f"{FEED_KIND_FOLDERS[kind]}/{slug}" if FEED_KIND_FOLDERS[kind] else ""


def _memberships(item: Item) -> list[tuple[str, FeedKind, str, str]]:
    """(feed path, kind, slug, display name) of every feed an item belongs to."""
    result: list[tuple[str, FeedKind, str, str]] = [("", "site", "", "")]
    kinds: tuple[tuple[FeedKind, tuple[str, ...]], ...] = (
        ("category", item.categories),
        ("tag", item.tags),
    )
    for kind, names in kinds:
        for name in names:
            slug = name_slug(name)
            result.append((_feed_path(kind, slug), kind, slug, name))
    return result


class LiveCatalog:
    """Items, their states, and each feed's order, updated change by change."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.states: dict[str, State] = {}
        self.entries: dict[str, Entry] = {}
        self._feeds: dict[str, _Feed] = {"": _Feed("site", "")}
        self._claims: dict[str, list[str]] = {}
        self._problems: dict[str, Problem] = {}

    @property
    def problems(self) -> list[Problem]:
        return [self._problems[key] for key in sorted(self._problems)]

    @property
    def next_scheduled(self) -> datetime | None:
        times = [self._published(k) for k, s in self.states.items() if s == "scheduled"]
        return min(times, default=None)

    def newest_first(self) -> list[Entry]:
        return [self.entries[key] for _, key in reversed(self._feeds[""].order)]

    def feed(self, path: str) -> FeedSpec | None:
        found = self._feeds.get(path)
        if found is None:
            return None
        name = found.names.most_common(1)[0][0] if found.names else ""
        return FeedSpec(found.kind, found.slug, name, path, len(found.order))

    @property
    def feeds(self) -> list[FeedSpec]:
        """Site first, then categories, then tags, each by slug."""
        rank = {kind: i for i, kind in enumerate(FEED_KIND_FOLDERS)}
        paths = sorted(self._feeds, key=lambda p: (rank[self._feeds[p].kind], self._feeds[p].slug))
        return [spec for p in paths if (spec := self.feed(p)) is not None]

    def order(self, path: str) -> list[Position]:
        return self._feeds[path].order

    def apply(
        self,
        changed: Mapping[str, Item | None],
        *,
        now: datetime,
        first_seen: Mapping[str, datetime],
        updated_at: Mapping[str, datetime],
    ) -> Delta:
        """Take new versions of some items (None: gone) and the current time into account."""
        self._first_seen = first_seen
        candidates: set[str] = set(changed)
        for key, item in changed.items():
            old = self.items.get(key)
            if old is not None:
                candidates.update(self._unclaim(old))
            if item is None:
                self.items.pop(key, None)
            else:
                self.items[key] = item
                candidates.update(self._claim(item))
        # Scheduled items whose time has come change without any file change.
        candidates.update(
            k
            for k, s in self.states.items()
            if s == "scheduled" and k in self.items and self._published(k) <= now
        )
        delta = Delta()
        moves = [
            move
            for key in sorted(candidates)
            if (move := self._settle(key, now, updated_at, delta))
        ]
        # Leave first, on still-sorted orders; then join (a large batch appends, then sorts).
        for leaving, _ in moves:
            if leaving is not None:
                self._leave(leaving, delta)
        bulk = len(moves) > 64
        for _, joining in moves:
            if joining is not None:
                self._join(joining, delta, bulk=bulk)
        if bulk:
            for path in delta.shifted:
                if path in self._feeds:
                    self._feeds[path].order.sort()
                    delta.shifted[path] = 0
        for path in [p for p, f in self._feeds.items() if p and not f.order]:
            del self._feeds[path]
        return delta

    def _published(self, key: str) -> datetime:
        item = self.items[key]
        return item.date or self._first_seen[key]

    def _claim(self, item: Item) -> list[str]:
        if item.draft:
            return []
        keys = self._claims.setdefault(item.id, [])
        bisect.insort(keys, item.key)
        return keys[:]

    def _unclaim(self, item: Item) -> list[str]:
        keys = self._claims.get(item.id, [])
        if item.key in keys:
            keys.remove(item.key)
        if not keys:
            self._claims.pop(item.id, None)
        return keys[:]

    def _settle(
        self, key: str, now: datetime, updated_at: Mapping[str, datetime], delta: Delta
    ) -> tuple[Entry | None, Entry | None] | None:
        """Recompute one item's state and entry; the (old, new) entries if it must move."""
        item = self.items.get(key)
        old_state = self.states.get(key)
        old_entry = self.entries.pop(key, None)
        self._problems.pop(key, None)
        entry: Entry | None = None
        if item is None:
            self.states.pop(key, None)
        else:
            published = self._published(key)
            state = item_state(item, published, now)
            owner = self._claims.get(item.id, [key])[0]
            if state != "draft" and owner != key:
                state = "duplicate"
                self._problems[key] = Problem(
                    key, None, f"same id as {owner} ({item.id}); this one is left out"
                )
            self.states[key] = state
            if state == "published":
                entry = Entry(item, published, max(published, updated_at.get(key, published)))
                self.entries[key] = entry
        if entry == old_entry and self.states.get(key) == old_state:
            return None
        delta.keys.add(key)
        if old_entry is not None and entry is not None and _same_place(old_entry, entry):
            for path, *_ in _memberships(entry.item):
                delta.touched.setdefault(path, set()).add(entry.position)
            return None
        return old_entry, entry

    def _leave(self, entry: Entry, delta: Delta) -> None:
        position = entry.position
        for path, _kind, _slug, name in _memberships(entry.item):
            feed = self._feeds[path]
            index = bisect.bisect_left(feed.order, position)
            del feed.order[index]
            if name:
                feed.names[name] -= 1
                if feed.names[name] <= 0:
                    del feed.names[name]
            delta.shift(path, index)

    def _join(self, entry: Entry, delta: Delta, *, bulk: bool) -> None:
        # One position shared by every feed holding the entry, not a tuple for each.
        position = entry.position
        for path, kind, slug, name in _memberships(entry.item):
            feed = self._feeds.get(path)
            if feed is None:
                # Not ``setdefault``: it would build a feed (and its Counter) for every
                # membership, a third of a first scan's catalog time.
                feed = self._feeds[path] = _Feed(kind, slug)
            if bulk:
                feed.order.append(position)
                index = 0
            else:
                index = bisect.bisect_left(feed.order, position)
                feed.order.insert(index, position)
            if name:
                feed.names[name] += 1
            delta.shift(path, index)


def _same_place(old: Entry, new: Entry) -> bool:
    """Same date and same feeds (by display name too, which titles feeds): edit in place."""
    return (
        old.published == new.published
        and old.item.categories == new.item.categories
        and old.item.tags == new.item.tags
    )
