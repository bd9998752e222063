"""Finding candidate documents under the content folders (the only disk walk of reading).

Also the one rule that names a file: its key, ``<content folder name>/<path below it>``, used
by the walk and by the worker when the watcher reports a path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from syndicator.parallel import sent_as_fields


@sent_as_fields
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
        """The file as messages name it. Built only for a file with a problem: one for every
        file of a large folder on every walk was most of a rescan's time, and one for every
        file read cost a reading worker more than the read (``location`` is opened)."""
        return Path(self.location)


def document_key(collection: str, relative: str) -> str:
    """The key of the file at ``relative`` (OS separators) below the folder ``collection``."""
    return f"{collection}/{relative.replace(os.sep, '/')}"


def roots(dirs: Iterable[Path]) -> list[tuple[str, str]]:
    """(absolute root, collection) of each folder, as given and as resolved: the watcher
    reports paths under the folder as given, which may be a symbolic link."""
    return [
        (root, folder.resolve().name)
        for folder in dirs
        for root in dict.fromkeys((os.path.abspath(folder), str(folder.resolve())))
    ]


def locate(path: str, folders: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """(key, collection) of a path under one of ``folders`` (from ``roots``); None if outside
    or hidden."""
    path = os.path.abspath(path)
    for root, collection in folders:
        if path.startswith(root + os.sep):
            relative = path[len(root) + 1 :]
            if any(part.startswith(".") for part in relative.split(os.sep)):
                return None
            return document_key(collection, relative), collection
    return None


def walk(dirs: Sequence[Path]) -> list[Source]:
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
                    yield Source(
                        location=entry.path,
                        key=document_key(collection, entry.path[len(top) :].lstrip(os.sep)),
                        collection=collection,
                        size=stat.st_size,
                        mtime_ns=stat.st_mtime_ns,
                    )
