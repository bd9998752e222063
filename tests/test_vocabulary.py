"""Each vocabulary is complete wherever it is used: a format added to the registry without a
renderer, or a role without a meaning, fails here rather than at a user's first build."""

from __future__ import annotations

from typing import get_args

from syndicator.config import Config
from syndicator.feeds.renderers import RENDERERS
from syndicator.vocabulary import FEED_KIND_FOLDERS, FORMATS, FeedKind, FormatName, Role


def test_every_format_has_a_renderer_and_is_on_by_default():
    assert list(FORMATS) == list(get_args(FormatName)) == list(RENDERERS)
    assert Config().feeds.formats == tuple(FORMATS)
    assert len({f.filename for f in FORMATS.values()}) == len(FORMATS)


def test_every_feed_kind_has_a_folder():
    assert list(FEED_KIND_FOLDERS) == list(get_args(FeedKind))


def test_every_role_does_something_and_all_does_everything():
    for role in Role:
        assert role.scans or role.delivers or role.serves
    assert Role.ALL.scans and Role.ALL.delivers and Role.ALL.serves
