"""Rendered entries, packed: in one buffer, or in an unnamed file once they are many."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

# Above this many bytes of entries, they move to a file. Page writers read them back with
# one ``pread`` each (a microsecond more than a slice of memory), and the file's pages are
# the kernel's cache, which it can drop, not this process's memory: a format's entries at
# 100,000 documents are 350 MB, a third of the build's peak.
SPILL_BYTES = 64 * 1024 * 1024


class Fragments:
    """The entries of one format as rendered, packed, by item key.

    One object instead of one per entry: forked page writers read slices of it without
    touching, and so copying, the pages of 100,000 objects (their reference counts), and a
    buffer let go goes back to the system at once, where 100,000 small objects freed here and
    there leave the heap in pieces. Space of dropped entries is reclaimed when it is more
    than the live entries take. Past ``SPILL_BYTES`` the entries go to an unnamed file in
    ``spill_to`` (the output folder: on disk, where a temporary folder may be memory); forked
    workers read it through the descriptor they inherit.
    """

    def __init__(self, spill_to: Path | None = None) -> None:
        self._spill_to = spill_to
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._size = 0
        self._spans: dict[str, tuple[int, int]] = {}
        self._live = 0

    def __contains__(self, key: str) -> bool:
        return key in self._spans

    def __getitem__(self, key: str) -> bytes:
        start, stop = self._spans[key]
        if self._file is not None:
            return _read(self._file, start, stop - start)
        return bytes(memoryview(self._buffer)[start:stop])

    def add(self, key: str, data: bytes) -> None:
        self.discard(key)
        start = self._size
        if self._file is not None:
            _write(self._file, data, start)
        else:
            self._buffer += data
        self._size += len(data)
        self._spans[key] = (start, self._size)
        self._live += len(data)
        if self._file is None and self._spill_to is not None and self._size > SPILL_BYTES:
            self._spill_to.mkdir(parents=True, exist_ok=True)
            # Open as long as the entries are: closed by ``keep`` or with this object.
            self._file = tempfile.TemporaryFile(dir=self._spill_to, buffering=0)  # noqa: SIM115
            _write(self._file, self._buffer, 0)
            self._buffer = bytearray()

    def discard(self, key: str) -> None:
        span = self._spans.pop(key, None)
        if span is not None:
            self._live -= span[1] - span[0]

    def keep(self, keys: Collection[str], others: int = 0) -> None:
        """Forget every entry but those of ``keys`` and, of the rest, the ``others`` added
        last."""
        rest = [k for k in self._spans if k not in keys]
        for key in rest[: max(0, len(rest) - others)]:
            self.discard(key)
        if self._live * 2 < self._size:
            kept = Fragments(self._spill_to)
            for key in self._spans:
                kept.add(key, self[key])
            if self._file is not None:
                self._file.close()
            self._buffer, self._file, self._size = kept._buffer, kept._file, kept._size
            self._spans = kept._spans

    def __getstate__(self) -> dict[str, Any]:
        """To a fork server's worker, the entries themselves: a descriptor does not travel."""
        state = dict(self.__dict__)
        if self._file is not None:
            state["_buffer"] = bytearray(_read(self._file, 0, self._size))
            state["_file"] = None
        return state


def _read(file: BinaryIO, start: int, length: int) -> bytes:
    data = os.pread(file.fileno(), length, start)
    while len(data) < length:  # a short read, which a large one may be
        more = os.pread(file.fileno(), length - len(data), start + len(data))
        if not more:
            raise EOFError(f"entries file ends at {start + len(data)}, not {start + length}")
        data += more
    return data


def _write(file: BinaryIO, data: bytes | bytearray, start: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(file.fileno(), view, start)
        view, start = view[written:], start + written
