"""The pure rules behind the contracts, pinned where the end-to-end tests cannot reach every
case: archive paging (README "Output"), retry timing, webhook secrets, front-matter dates,
slugs.
Only the modules' public functions are used, so internal rewrites keep these meaningful.
Found by mutation testing (mutmut, by hand): each test kills mutants that survived the rest.
"""

from __future__ import annotations

import base64
import random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syndicator.content.dates import DateError, to_datetime
from syndicator.content.slugs import MAX_NAME_LENGTH, name_slug, url_slug
from syndicator.feeds.paging import archive_count, oldest_first_slice, page_path, pages_holding
from syndicator.push.retry import next_attempt_at
from syndicator.push.signing import SECRET_PREFIX, decode_secret

PARIS = ZoneInfo("Europe/Paris")
T = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_page_paths_of_the_site_and_of_a_feed_folder():
    assert page_path("", None, "rss") == "rss.xml"
    assert page_path("", 3, "atom") == "archive/3/atom.xml"
    assert page_path("tags/paris", None, "json") == "tags/paris/feed.json"
    assert page_path("tags/paris", 1, "json") == "tags/paris/archive/1/feed.json"


@pytest.mark.parametrize(
    ("size", "count"), [(0, 0), (1, 0), (50, 0), (51, 0), (100, 0), (101, 2), (150, 2), (151, 3)]
)
def test_archives_are_full_pages_beside_the_newest_from_two_on(size, count):
    # None until two pages fill: a lone archive would have no archive neighbour to link.
    assert archive_count(size, 50) == count


def test_each_item_is_on_its_archive_and_or_the_current_page():
    size, per = 7, 3  # archives 1 = [0, 1, 2], 2 = [3, 4, 5]; current = [4, 5, 6]
    assert oldest_first_slice(size, None, per) == slice(4, 7)
    assert oldest_first_slice(size, 1, per) == slice(0, 3)
    assert oldest_first_slice(size, 2, per) == slice(3, 6)
    assert oldest_first_slice(2, None, per) == slice(0, 2)
    holding = {index: pages_holding(index, size, per) for index in range(size)}
    assert holding == {0: [1], 1: [1], 2: [1], 3: [2], 4: [2, None], 5: [2, None], 6: [None]}
    assert [pages_holding(i, 3, 3) for i in range(3)] == [[None], [None], [None]]
    assert [pages_holding(i, 6, 3) for i in range(6)] == [[], [], [], [None], [None], [None]]


def test_jitter_is_the_rngs_draw_added_to_the_schedule():
    draw = random.Random(7).uniform(-0.5, 0.5)
    at = next_attempt_at(1, T, schedule=[100], jitter=0.5, rng=random.Random(7))
    assert at == T + timedelta(seconds=100 * (1 + draw))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "starts at 1, not 0"),
        ({"attempts": 1, "jitter": 1.0}, r"in \[0, 1\), not 1.0"),
        ({"attempts": 1, "jitter": -0.1}, r"in \[0, 1\), not -0.1"),
    ],
)
def test_retry_arguments_out_of_range_are_refused_saying_why(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next_attempt_at(failed_at=T, schedule=[1], **kwargs)


def test_a_secret_with_a_stray_character_is_refused():
    good = base64.b64encode(bytes(range(32))).decode()
    assert decode_secret(SECRET_PREFIX + good) == bytes(range(32))
    with pytest.raises(ValueError, match="base64"):
        decode_secret(SECRET_PREFIX + good[:10] + "*" + good[10:])


def test_an_unpadded_secret_gets_exactly_its_missing_padding():
    for size in (24, 25, 26, 32):  # every remainder of the base64 length modulo 4
        key = bytes(range(size))
        unpadded = base64.b64encode(key).decode().rstrip("=")
        assert decode_secret(SECRET_PREFIX + unpadded) == key


@pytest.mark.parametrize("value", [12345, 1.5, None, [], "", "   ", "someday"])
def test_what_is_not_a_date_is_refused_naming_it(value):
    with pytest.raises(DateError, match=re.escape(f"cannot read {value!r} as a date")):
        to_datetime(value, PARIS)


@pytest.mark.parametrize("slug", [url_slug, name_slug])
def test_an_apostrophe_joins_the_words_it_stands_between(slug):
    # As Jekyll's permalinks and the site's folders have it: "d'intérêt" is "dinteret", where
    # python-slugify alone would make the ASCII apostrophe a separator ("d-interet").
    assert slug("Entrepreneurs d'intérêt général") == "entrepreneurs-dinteret-general"


def test_a_permalink_slug_is_never_cut_where_a_feed_folder_is():
    title = "mot " * 100  # 399 characters as a slug
    assert url_slug(title) == "-".join(["mot"] * 100)
    assert name_slug(title) == "-".join(["mot"] * 50)  # 199: the last whole word within 200
    assert len(name_slug(title)) <= MAX_NAME_LENGTH
