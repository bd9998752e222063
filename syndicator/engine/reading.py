"""Reading stage of the engine: changed files parsed (on every core when many), then merged
into the document records the store keeps between scans."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from syndicator.config import Config
from syndicator.content.items import ReadResult, parse_source
from syndicator.content.sources import Source, walk
from syndicator.parallel import each_chunk, map_chunks, sent_as_fields, shared
from syndicator.progress import silent
from syndicator.store.forms import DocumentRecord, item_version

ProgressFn = Callable[[str, int, int], None]


@sent_as_fields
@dataclass(frozen=True, slots=True)
class Read:
    """A file after reading: the same text as ``known`` says (``result`` None) or parsed,
    with the version of its item ("" without one)."""

    source: Source
    sha256: str
    result: ReadResult | None
    version: str = ""


def read_sources(
    sources: Sequence[Source],
    config: Config,
    known: Mapping[str, str] | None = None,
    progress: ProgressFn = silent,
) -> list[Read]:
    """Read every source, on all cores when there are many; a source whose bytes hash to
    ``known[key]`` is not parsed again."""
    return map_chunks(
        _read_chunk,
        sources,
        shared=(config, known or {}),
        progress=lambda done, total: progress("reading", done, total),
    )


class ReadAhead:
    """Every file of the folder given to the reading workers before the store is open.

    A build into a new store (``store.location.known_new``) reads every file, whatever the
    store says. Started first, the reading runs beside the imports and store set-up that came
    before it, with a core idle: a fifth of a cold build of 5,000 documents. The scan takes
    the reads only for exactly these files and settings, with no hashes known; otherwise
    they are dropped (``close``) and it reads what it needs."""

    def __init__(self, config: Config, progress: ProgressFn = silent) -> None:
        self.config = config
        self.sources = walk(config.content.paths)
        self._parts: Generator[list[Read], None, None] = each_chunk(
            _read_chunk,
            self.sources,
            shared=(config, {}),
            progress=lambda done, total: progress("reading", done, total),
        )

    def take(
        self, sources: Sequence[Source], config: Config, known: Mapping[str, str]
    ) -> list[Read] | None:
        """The reads of ``sources``, if they are those read ahead; None otherwise."""
        if known or config != self.config or list(sources) != self.sources:
            self.close()
            return None
        return [read for part in self._parts for read in part]

    def close(self) -> None:
        """Stop the workers, if they are still at work."""
        self._parts.close()


def _read_chunk(sources: Sequence[Source]) -> list[Read]:
    config, known = shared()
    done: list[Read] = []
    for source in sources:
        data: bytes | OSError
        try:
            # Not through a ``Path``: building one, and its ``open``, cost more than the read.
            with open(source.location, "rb") as file:
                data = file.read()
        except OSError as exc:
            data = exc
        digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else ""
        if digest and known.get(source.key) == digest:
            done.append(Read(source, digest, None))
        else:
            result = parse_source(source, data, config)
            version = item_version(result.item) if result.item is not None else ""
            done.append(Read(source, digest, result, version))
    return done


def merge(
    current: dict[str, DocumentRecord], reads: Sequence[Read], now: datetime
) -> tuple[list[DocumentRecord], list[str]]:
    """Update ``current`` in place; the records to write back, and files no longer documents.

    A file that cannot be parsed any more keeps its last good item, so an edit half-saved by
    an editor never takes an article out of the feeds."""
    updates: list[DocumentRecord] = []
    dropped: list[str] = []
    for read in reads:
        key = read.source.key
        old = current.get(key)
        size, mtime_ns = read.source.size, read.source.mtime_ns
        if read.result is None and old is not None:
            record = replace(old, size=size, mtime_ns=mtime_ns)
        elif read.result is not None and read.result.is_document:
            result = read.result
            if result.item is None and old is not None:
                item, version = old.item, old.version
            else:
                item, version = result.item, read.version
            record = DocumentRecord(
                key,
                sha256=read.sha256,
                first_seen=old.first_seen if old else now,
                item=item,
                problems=result.problems,
                size=size,
                mtime_ns=mtime_ns,
                version=version,
            )
        else:
            if current.pop(key, None) is not None:
                dropped.append(key)
            continue
        current[key] = record
        updates.append(record)
    return updates, dropped
