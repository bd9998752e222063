"""Finding candidate documents under the content folders (the only disk walk of reading)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Source:
    """One file that may be a document.

    ``key`` is ``<content folder name>/<path below it>``: it names the file in messages and the
    store, and its string order decides which of two documents with one ID is kept.
    """

    location: str
    key: str
    collection: str
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        """A ``Path`` is built only for the files actually read: building one for every file
        of a large folder on every walk was most of a rescan's time."""
        return Path(self.location)


def scan(dirs: Sequence[Path]) -> list[Source]:
    """Every non-hidden regular file below ``dirs``, in key order.

    Hidden names are skipped because editors and our own atomic writers leave temporary
    dot-files; which files really are documents is decided when they are read.
    """
    found: dict[str, Source] = {}
    for root in dirs:
        for source in _walk(root):
            found.setdefault(source.key, source)
    return [found[key] for key in sorted(found)]


def _walk(root: Path) -> Iterator[Source]:
    collection = root.resolve().name
    top = os.fspath(root)
    stack = [top]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file():
                    stat = entry.stat()
                    relative = entry.path[len(top) :].lstrip(os.sep).replace(os.sep, "/")
                    yield Source(
                        location=entry.path,
                        key=f"{collection}/{relative}",
                        collection=collection,
                        size=stat.st_size,
                        mtime_ns=stat.st_mtime_ns,
                    )
