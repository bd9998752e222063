"""The built output folder (docs/contracts/output.md) served over HTTP as docs/contracts/http.md promises.

Why not Starlette's ``StaticFiles`` wrapped in ``GZipMiddleware``: together they fall short of the
contract in ways that subclassing one hook cannot fix, because the conditional-request logic,
the ETag and the compression are spread over the two classes and all of them must agree on
which representation was chosen:

- ``FileResponse`` derives its ETag from the mtime and the size. Many kernels and filesystems
  stamp files with a coarse clock (a jiffy, or whole seconds), and copies made with
  ``rsync --times`` keep the mtime, so a feed replaced by one of the same length can keep its
  ETag and aggregators are told 304 for stale content; two machines building the same folder
  also hand out different ETags for identical bytes. A digest of the content has neither
  problem.
- ``GZipMiddleware`` keeps the identity response's strong ETag on the gzip body (RFC 9110
  §8.8.3 requires distinct strong validators per encoding), recompresses every response at
  level 9, takes ``gzip;q=0`` for a yes, and never touches HEAD, so a HEAD advertises different
  headers from the GET it stands for.
- ``StaticFiles`` serves dot-files (the atomic writer's temporary files), and every request
  costs a thread hop for the lookup, a realpath of the whole path and threaded open, read and
  close calls: that, not the bytes, is the cost of the small files served here
  (``bench/serve.py`` measures it).

What is reused: ``Response`` for the wire, ``Headers`` for request parsing,
``RedirectResponse`` and ``WebSocketClose``. Files are read once per version into a bounded
in-memory cache together with their gzip bytes, so a hit costs one ``lstat`` per path segment
and no thread; only a miss goes to a thread.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate, mktime_tz, parsedate_tz
from mimetypes import guess_type
from pathlib import Path
from typing import Final
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from syndicator.vocabulary import FEED_MEDIA_TYPES

_SUFFIX_MEDIA_TYPES: Final[dict[str, str]] = {
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json",
}

DEFAULT_CACHE_BYTES: Final = 64 * 1024 * 1024
"""Enough for a few hundred full-content feeds; past it the least recently read are dropped."""

_ENCODED_SEPARATORS: Final = (b"%2f", b"%5c", b"%00")
"""Percent-encoded ``/``, ``\\`` and NUL: no file the builder writes has one in its URL, and a
decoded path can no longer tell them from real separators, so they are refused before decoding
can hide them."""

_GZIP_LEVEL: Final = 9
"""Compression happens once per file version, so the smallest output is worth the CPU."""

StatKey = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Variant:
    """One encoding of a file: the bytes sent and the strong ETag that names exactly them."""

    body: bytes
    etag: str
    encoding: str | None


@dataclass(frozen=True, slots=True)
class _Representation:
    """Everything needed to answer for one version of one file without touching the disk."""

    stat_key: StatKey
    identity: _Variant
    gzipped: _Variant | None
    media_type: str
    is_feed: bool
    last_modified: str
    mtime: int

    @property
    def size(self) -> int:
        return len(self.identity.body) + (len(self.gzipped.body) if self.gzipped else 0)

    def variants(self) -> tuple[_Variant, ...]:
        return (self.identity, self.gzipped) if self.gzipped else (self.identity,)


def _stat_key(result: os.stat_result) -> StatKey:
    """Identity of one file version: an atomic replace always yields a new inode or ctime."""
    return (result.st_dev, result.st_ino, result.st_size, result.st_mtime_ns, result.st_ctime_ns)


def _media_type(name: str) -> str:
    if name in FEED_MEDIA_TYPES:
        return FEED_MEDIA_TYPES[name]
    suffix = os.path.splitext(name)[1].lower()
    return _SUFFIX_MEDIA_TYPES.get(suffix) or guess_type(name)[0] or "application/octet-stream"


def _load(path: str) -> _Representation:
    """Read one file version; stat and bytes come from one descriptor so they always agree."""
    with open(path, "rb") as file:
        result = os.fstat(file.fileno())
        body = file.read()
    tag = hashlib.sha256(body).hexdigest()[:32]
    compressed = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
    name = os.path.basename(path)
    return _Representation(
        stat_key=_stat_key(result),
        identity=_Variant(body, f'"{tag}"', None),
        gzipped=_Variant(compressed, f'"{tag}-gzip"', "gzip")
        if len(compressed) < len(body)
        else None,
        media_type=_media_type(name),
        is_feed=name in FEED_MEDIA_TYPES,
        last_modified=formatdate(result.st_mtime, usegmt=True),
        mtime=int(result.st_mtime),
    )


class _RepresentationCache:
    """Least-recently-used files, bounded in bytes.

    Keyed by path and checked against the current stat, so a replaced file is reloaded on its
    next request and its old version leaves the cache at once instead of waiting to age out.
    Only the event loop touches it, so it needs no lock.
    """

    def __init__(self, max_bytes: int) -> None:
        self._entries: OrderedDict[str, _Representation] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    def get(self, path: str, stat_key: StatKey) -> _Representation | None:
        entry = self._entries.get(path)
        if entry is None or entry.stat_key != stat_key:
            return None
        self._entries.move_to_end(path)
        return entry

    def put(self, path: str, representation: _Representation) -> None:
        old = self._entries.pop(path, None)
        if old is not None:
            self._bytes -= old.size
        if representation.size > self._max_bytes:
            return
        self._entries[path] = representation
        self._bytes += representation.size
        while self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size


def _route_path(scope: Scope) -> str:
    """The request path below the mount point, so the app can be mounted anywhere."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def _safe_segments(route_path: str, raw_path: bytes | None) -> list[str] | None:
    """Path segments, or None for any request shaped like an escape or aimed at a hidden name.

    Refusing every dot-segment also refuses ``.`` and ``..``, so no normalisation is needed
    and there is no normalisation to get wrong.
    """
    if raw_path is not None and any(sep in raw_path.lower() for sep in _ENCODED_SEPARATORS):
        return None
    segments = [segment for segment in route_path.split("/") if segment]
    if any(s.startswith(".") or "\\" in s or "\x00" in s for s in segments):
        return None
    return segments


def _accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: ``gzip;q=0`` is a refusal, and ``*`` covers gzip unless it is named."""
    qualities: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        qualities[coding.strip().lower()] = quality
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding] > 0
    return False


def _etag_match(
    if_none_match: str, chosen: _Variant, representation: _Representation
) -> str | None:
    """The tag to confirm in a 304, or None.

    A client holding the other encoding of the same content is still up to date, so its tag is
    confirmed too (echoing its own tag lets its cache update the copy it has). Comparison is
    weak, as RFC 9110 §13.1.2 prescribes for If-None-Match.
    """
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if "*" in tags:
        return chosen.etag
    for variant in (chosen, *representation.variants()):
        if variant.etag in tags:
            return variant.etag
    return None


def _not_modified_since(if_modified_since: str, mtime: int) -> bool:
    parsed = parsedate_tz(if_modified_since)
    return parsed is not None and mtime <= mktime_tz(parsed)


def _validated_etag(
    headers: Headers, chosen: _Variant, representation: _Representation
) -> str | None:
    """RFC 9110 §13.2.2 order: If-None-Match, when present, makes If-Modified-Since irrelevant."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_match(if_none_match, chosen, representation)
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is not None and _not_modified_since(
        if_modified_since, representation.mtime
    ):
        return chosen.etag
    return None


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


class FeedFiles:
    """ASGI app serving one output folder; see the module docstring for what it guarantees."""

    def __init__(
        self,
        output_dir: Path,
        *,
        base_url: str,
        hub_url: str | None = None,
        max_age: int = 60,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._root = os.path.realpath(output_dir)
        self._base_url = base_url.rstrip("/")
        self._hub_url = hub_url
        self._cache_control = f"public, max-age={max_age}"
        self._cache = _RepresentationCache(cache_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # lifespan: nothing to start or stop, and the server carries on without it
        response = await self._respond(scope)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
        route_path = _route_path(scope)
        segments = _safe_segments(route_path, scope.get("raw_path"))
        found = None if segments is None else self._locate(segments)
        if segments is None or found is None:
            return _not_found()
        full_path, result = found
        if stat.S_ISDIR(result.st_mode):
            return await self._directory(scope, route_path, segments)
        if not stat.S_ISREG(result.st_mode):
            return _not_found()
        return await self._file(scope, route_path, full_path, result)

    def _locate(self, segments: list[str]) -> tuple[str, os.stat_result] | None:
        """The real path a request names and its stat, or None if absent or out of bounds.

        Walks down from the (already real) root with one lstat per segment instead of calling
        realpath, which re-resolves every component of the root as well and was half the cost
        of a 304. The first symlink met hands over to realpath, so where it leads is checked.
        """
        path = self._root
        try:
            result = os.stat(path)
            for segment in segments:
                path = f"{path}{os.sep}{segment}"
                result = os.lstat(path)
                if stat.S_ISLNK(result.st_mode):
                    return self._locate_through_link(segments)
        except OSError:
            return None
        return path, result

    def _locate_through_link(self, segments: list[str]) -> tuple[str, os.stat_result] | None:
        real = os.path.realpath(os.path.join(self._root, *segments))
        if not real.startswith(self._root + os.sep):
            return None
        relative = real[len(self._root) + 1 :]
        if any(part.startswith(".") for part in relative.split(os.sep)):
            return None
        try:
            return real, os.stat(real)
        except OSError:
            return None

    async def _directory(self, scope: Scope, route_path: str, segments: list[str]) -> Response:
        """A folder answers with its index.html, at its canonical URL with a trailing slash."""
        found = self._locate([*segments, "index.html"])
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return _not_found()
        if not route_path.endswith("/"):
            # Relative, so it stays right behind any mount point or proxy prefix.
            last_segment = str(scope["path"]).rsplit("/", 1)[-1]
            return RedirectResponse(quote(last_segment) + "/", status_code=301)
        return await self._file(scope, route_path, *found)

    async def _file(
        self, scope: Scope, route_path: str, full_path: str, result: os.stat_result
    ) -> Response:
        representation = self._cache.get(full_path, _stat_key(result))
        if representation is None:
            representation = await anyio.to_thread.run_sync(_load, full_path)
            self._cache.put(full_path, representation)
        request_headers = Headers(scope=scope)
        chosen = representation.identity
        if representation.gzipped and _accepts_gzip(request_headers.get("accept-encoding", "")):
            chosen = representation.gzipped
        headers = {"cache-control": self._cache_control}
        if representation.gzipped:
            headers["vary"] = "Accept-Encoding"
        confirmed = _validated_etag(request_headers, chosen, representation)
        if confirmed is not None:
            return Response(status_code=304, headers={**headers, "etag": confirmed})
        headers |= self._entity_headers(representation, chosen, route_path)
        body = b"" if scope["method"] == "HEAD" else chosen.body
        return Response(body, headers=headers)

    def _entity_headers(
        self, representation: _Representation, chosen: _Variant, route_path: str
    ) -> dict[str, str]:
        headers = {
            "content-type": representation.media_type,
            # Set explicitly: a HEAD sends no body but must announce the GET's length.
            "content-length": str(len(chosen.body)),
            "etag": chosen.etag,
            "last-modified": representation.last_modified,
        }
        if chosen.encoding:
            headers["content-encoding"] = chosen.encoding
        if representation.is_feed:
            headers["link"] = self._link(route_path)
        return headers

    def _link(self, route_path: str) -> str:
        """WebSub discovery (W3C WebSub §4): the hub, and the topic URL this feed is known by."""
        self_link = f'<{self._base_url}{quote(route_path)}>; rel="self"'
        if self._hub_url is None:
            return self_link
        return f'<{self._hub_url}>; rel="hub", {self_link}'


def feed_files_app(
    output_dir: Path,
    *,
    base_url: str,
    hub_url: str | None = None,
    max_age: int = 60,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> FeedFiles:
    """The output folder as a mountable ASGI app.

    ``base_url`` is the public URL of the folder's root (where the app is mounted): a feed's
    self link is ``base_url`` plus its path in the folder, which must match the self link the
    builder writes inside the feed, since WebSub subscribers key on it.
    """
    return FeedFiles(
        output_dir, base_url=base_url, hub_url=hub_url, max_age=max_age, cache_bytes=cache_bytes
    )
