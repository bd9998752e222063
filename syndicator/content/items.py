"""One document → one item: every front-matter rule of docs/contracts/content.md in one place."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from syndicator.config import Config
from syndicator.content.dates import FILENAME_DATE, DateError, date_from_filename, to_datetime
from syndicator.content.documents import Document, DocumentError, parse_document
from syndicator.content.markup import (
    absolute_url,
    first_paragraph,
    render_markdown,
    strip_xml_forbidden,
)
from syndicator.content.slugs import name_slug, url_slug
from syndicator.content.sources import Source
from syndicator.parallel import sent_as_fields


@sent_as_fields
@dataclass(frozen=True, slots=True)
class Item:
    """A document as feeds see it. ``date`` is None only when neither the front matter nor the
    file name gives one: the catalog then uses the time the store first saw the file.
    ``content_html`` is empty when ``feeds.full_content`` is off: no feed carries it then."""

    key: str
    id: str
    url: str
    title: str
    date: datetime | None
    draft: bool
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    summary_html: str
    content_html: str
    image: str | None
    author: str
    external_url: str | None


@sent_as_fields
@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in one file, said so that an author can find and fix it."""

    path: str
    line: int | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


@sent_as_fields
@dataclass(frozen=True, slots=True)
class ReadResult:
    """What reading one file gave: an item, or nothing (not a document, or broken)."""

    source: Source
    item: Item | None
    problems: tuple[Problem, ...] = ()

    @property
    def is_document(self) -> bool:
        return self.item is not None or any(p.severity == "error" for p in self.problems)


def unshared(text: str) -> str:
    """A new string equal to ``text``, for an encoder to read.

    orjson (like pickle) keeps the UTF-8 form of each non-ASCII string it encodes for as long
    as the string lives: encoding an item's own body where every item is held (the main
    process, a render worker) would add that form to every body, 2 to 5 KB an item, 370 MB at
    100,000 documents. The copy's form goes with the copy."""
    return "".join((text, ""))


_PLACEHOLDER = re.compile(r":([a-z_]+)")
_KEY_PART = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def reading_settings(config: Config) -> str:
    """A digest of the configuration ``build_item`` reads (the site, the content keys, whether
    feeds carry the full text): an item read under other settings is stale, so the engine
    reads every file again when it changes, even files whose bytes did not."""
    shaping = (config.site, config.content, config.feeds.full_content)
    return hashlib.sha256(orjson.dumps(shaping)).hexdigest()


def parse_source(source: Source, data: bytes | OSError, config: Config) -> ReadResult:
    """Parse bytes already read (or the error reading them) as the document ``source``."""
    if isinstance(data, OSError):
        problem = Problem(str(source.path), None, f"cannot read: {data.strerror}")
        return ReadResult(source, None, (problem,))
    try:
        document = parse_document(data)
    except DocumentError as exc:
        return ReadResult(source, None, (Problem(str(source.path), exc.line, exc.reason),))
    if document is None:
        return ReadResult(source, None)
    try:
        item, warnings = build_item(document, source, config)
    except DocumentError as exc:
        return ReadResult(source, None, (Problem(str(source.path), exc.line, exc.reason),))
    return ReadResult(
        source,
        item,
        tuple(Problem(str(source.path), line, msg, "warning") for line, msg in warnings),
    )


def build_item(
    document: Document, source: Source, config: Config
) -> tuple[Item, list[tuple[int | None, str]]]:
    """The item of a parsed document, with (line, message) warnings."""
    meta = document.front_matter
    warnings: list[tuple[int | None, str]] = []
    filename = source.key.rpartition("/")[2]
    stem = FILENAME_DATE.sub("", filename.rsplit(".", 1)[0] if "." in filename else filename)

    title = _text(meta.get("title"))
    if not title:
        title = stem.replace("-", " ").replace("_", " ").strip().capitalize() or filename
        warnings.append((None, f"no title; using {title!r} from the file name"))

    date = _date(document, config)
    if date is None:
        date = date_from_filename(filename, config.tz)

    slug = url_slug(_text(meta.get("slug")) or stem) or url_slug(filename)
    categories = _names(_first_present(meta, ("categories", "category")))
    tags = _names(_first_present(meta, ("tags", "tag")))
    url = _permalink(meta, source.collection, slug, date, categories, config)

    summary_source = _first_text(meta, config.content.summary_keys)
    summary_html = (
        render_markdown(summary_source, base_url=url, page=meta) if summary_source else ""
    )
    content_html = ""
    if config.feeds.full_content or not summary_html:
        # Without full content the body is rendered only when the summary needs it: its
        # markdown and sanitising were a quarter of a summaries-only build's CPU time.
        content_html = render_markdown(document.body, base_url=url, page=meta)
        if not summary_source:
            summary_html = first_paragraph(content_html)
    if not summary_html and not content_html:
        # No entry without text (a feed validator's "Missing textual content").
        summary_html = html.escape(title, quote=False)
    if not config.feeds.full_content:
        content_html = ""
    site_root = config.base_url + "/"
    image = _first_url(meta, config.content.image_keys, site_root)
    external = _first_url(meta, config.content.external_url_keys, site_root)
    author = _author(_first_present(meta, config.content.author_keys)) or config.site.author

    item = Item(
        key=source.key,
        id=_text(meta.get("id")) or _text(meta.get("guid")) or url,
        url=url,
        title=title,
        date=date,
        draft=_is_false(meta.get("published")),
        categories=categories,
        tags=tags,
        summary_html=summary_html,
        content_html=content_html,
        image=image,
        author=author,
        external_url=external,
    )
    return item, warnings


def _date(document: Document, config: Config) -> datetime | None:
    value = document.front_matter.get("date")
    if value is None or value == "":
        return None
    try:
        return to_datetime(value, config.tz)
    except DateError as exc:
        raise DocumentError(document.line_of("date"), f"date: {exc}") from exc


def _permalink(
    meta: Mapping[str, Any],
    collection: str,
    slug: str,
    date: datetime | None,
    categories: tuple[str, ...],
    config: Config,
) -> str:
    explicit = _text(meta.get("permalink"))
    if explicit:
        return _site_url(explicit, config)
    pattern = config.content.permalinks.get(collection, config.content.permalink)
    values = {
        "collection": collection.removeprefix("_"),
        "slug": slug,
        "title": slug,
        "name": slug,
        "categories": "/".join(url_slug(c) for c in categories),
    }
    if date is not None:
        values |= {
            "year": f"{date.year:04d}",
            "month": f"{date.month:02d}",
            "i_month": str(date.month),
            "day": f"{date.day:02d}",
            "i_day": str(date.day),
        }
    path = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)
    return _site_url(re.sub(r"/{2,}", "/", "/" + path), config)


def _site_url(path: str, config: Config) -> str:
    """A permalink as a URL: site paths go below the base URL's own path, as Jekyll puts them
    below ``baseurl`` (``urljoin`` would drop ``/blog`` from ``https://host/blog``)."""
    root = config.base_url + "/"
    target = path if _ABSOLUTE.match(path) else root + path.lstrip("/")
    return absolute_url(target, root) or root


def _lookup(meta: Mapping[str, Any], path: str) -> Any:
    """``une-ou-diaporama[0].image`` style paths into nested front matter."""
    if "." not in path and "[" not in path:
        return meta.get(path)
    value: Any = meta
    for part in path.split("."):
        match = _KEY_PART.match(part)
        if not match or not isinstance(value, Mapping):
            return None
        value = value.get(match.group(1))
        for index in re.findall(r"\[(\d+)\]", match.group(2)):
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _first_present(meta: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = _lookup(meta, key)
        if value not in (None, "", [], {}):
            return value
    return None


def _first_text(meta: Mapping[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        text = _text(_lookup(meta, key))
        if text:
            return text
    return ""


def _first_url(meta: Mapping[str, Any], keys: Iterable[str], base: str) -> str | None:
    for key in keys:
        text = _text(_lookup(meta, key))
        if text:
            url = absolute_url(text, base)
            if url:
                return url
    return None


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return strip_xml_forbidden(str(value)).strip()


def _names(value: Any) -> tuple[str, ...]:
    """A YAML list or a comma-separated string, each name once (by slug), display form kept."""
    if value is None:
        return ()
    parts = (
        value.split(",")
        if isinstance(value, str)
        else value
        if isinstance(value, list)
        else [value]
    )
    names: dict[str, str] = {}
    for part in parts:
        name = " ".join(_text(part).split())
        slug = name_slug(name)
        if name and slug:
            names.setdefault(slug, name)
    return tuple(names.values())


def _author(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(filter(None, (_author(v) for v in value)))
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def _is_false(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"false", "no", "off", "0"}
    return value is False
