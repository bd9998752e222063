"""Turning the many date forms authors write into aware datetimes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

FILENAME_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")


class DateError(ValueError):
    """A date value that cannot be understood."""


def to_datetime(value: object, tz: tzinfo) -> datetime:
    """A YAML datetime, date or string as an aware datetime; naive times are in ``tz``."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        # Imported here: most dates are YAML's own, and the parser costs every process that
        # never sees a string date its import (26 M instructions).
        from dateutil import parser as dateutil_parser

        try:
            result = dateutil_parser.parse(value.strip())
        except (ValueError, OverflowError) as exc:
            raise DateError(f"cannot read {value!r} as a date") from exc
    else:
        raise DateError(f"cannot read {value!r} as a date")
    if result.tzinfo is None:
        result = result.replace(tzinfo=tz)
    return result


def date_from_filename(name: str, tz: tzinfo) -> datetime | None:
    """Jekyll's ``YYYY-MM-DD-title`` convention, midnight in the site time zone."""
    match = FILENAME_DATE.match(name)
    if not match:
        return None
    try:
        day = date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    return datetime.combine(day, time(), tzinfo=tz)
