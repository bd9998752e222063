"""Slugs for category, tag and document names, matching the site's own URLs."""

from __future__ import annotations

from functools import lru_cache

from slugify import slugify as _slugify

_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018\u02bc")
# A category or tag slug names a folder of the output; file systems refuse a name over 255
# bytes, and one such tag must not stop the whole build. Cut at a word boundary.
MAX_NAME_LENGTH = 200


@lru_cache(maxsize=65536)
def url_slug(text: str) -> str:
    """A document's part of a permalink, as Jekyll makes it: apostrophes dropped first so
    ``d’intérêt`` gives ``dinteret``, and never shortened, or links to the site would break."""
    return _slugify(text.translate(_APOSTROPHES))


@lru_cache(maxsize=65536)
def name_slug(name: str) -> str:
    """A category's or tag's slug: where its feeds live, and what subscriptions filter on."""
    return _slugify(name.translate(_APOSTROPHES), max_length=MAX_NAME_LENGTH, word_boundary=True)
