"""Replacing files in the output folder so that a reader never sees half a feed.

Each file is written to a hidden temporary file in its own folder and renamed over the old one
(atomic on POSIX). A file whose bytes did not change is not touched, so its mtime, ETag and the
caches of every aggregator polling it stay valid. Files a previous build wrote and this one did
not are removed, using a manifest, so nothing else in the folder is ever deleted.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = ".syndicator-manifest"
WRITERS = 4
IN_FLIGHT = 64


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; True when written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


class OutputWriter:
    """Writes and removes files below ``root``, remembering in a manifest what it wrote, so that
    it only ever deletes its own files. Long-lived in a worker; ``begin`` starts a new report."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.report = WriteReport()
        self._manifest = _read_manifest(root / MANIFEST)
        self._saved = set(self._manifest)

    def begin(self) -> None:
        self.report = WriteReport()

    def write(self, relative: str, data: bytes) -> None:
        self._manifest.add(relative)
        if write_atomic(self.root / relative, data):
            self.report.written.append(relative)
        else:
            self.report.unchanged += 1

    def write_all(self, files: Iterable[tuple[str, bytes]]) -> None:
        """Write many files, the disk work on a few threads while the caller renders the next:
        file creation and renames wait on the file system, not on the interpreter. At most
        ``IN_FLIGHT`` rendered files wait in memory."""
        with ThreadPoolExecutor(WRITERS, thread_name_prefix="write") as pool:
            pending: deque[tuple[str, Future[bool]]] = deque()
            for relative, data in files:
                self._manifest.add(relative)
                pending.append((relative, pool.submit(write_atomic, self.root / relative, data)))
                if len(pending) >= IN_FLIGHT:
                    self._count(*pending.popleft())
            while pending:
                self._count(*pending.popleft())

    def _count(self, relative: str, written: Future[bool]) -> None:
        if written.result():
            self.report.written.append(relative)
        else:
            self.report.unchanged += 1

    def remove(self, relative: str) -> None:
        if relative not in self._manifest:
            return
        self._manifest.discard(relative)
        target = self.root / relative
        target.unlink(missing_ok=True)
        self.report.removed.append(relative)
        _remove_empty_parents(target.parent, self.root)

    def prune(self, keep: set[str]) -> None:
        """Remove every file a previous run wrote that is not in ``keep``."""
        for relative in sorted(self._manifest - keep):
            self.remove(relative)

    def finish(self) -> WriteReport:
        if self._manifest != self._saved:
            write_atomic(
                self.root / MANIFEST, "".join(f"{p}\n" for p in sorted(self._manifest)).encode()
            )
            self._saved = set(self._manifest)
        return self.report


def _read_manifest(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    return {line for line in lines if line and ".." not in Path(line).parts}


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
