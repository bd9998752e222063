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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from syndicator.parallel import each_chunk, shared

MANIFEST = ".syndicator-manifest"
WRITERS = 4
IN_FLIGHT = 64
J = TypeVar("J")


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; True when written.

    An error of the file system (a full disk, a folder not writable) names ``path`` itself,
    not the hidden temporary file, so the one line the command prints says which feed."""
    try:
        return _write_atomic(path, data)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _write_atomic(path: Path, data: bytes) -> bool:
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

    def write_rendered(
        self,
        jobs: Sequence[tuple[str, J]],
        render: Callable[[J], bytes],
        progress: Callable[[int, int], None] | None = None,
        *,
        weight: int = 1,
    ) -> Callable[[], None]:
        """Render and write many files on every core: ``jobs`` pairs each file's path with
        what ``render`` turns into its bytes. Each worker renders its share and writes those
        files itself, so neither the rendering nor the kernel's work of creating files waits on
        one interpreter, and no rendered file travels back to this process. Workers receive
        job numbers and read the jobs from memory inherited at the fork: pickling pages would
        copy every entry they hold. ``weight``: what rendering a file costs (``map_chunks``).

        Returns once the workers are started: this process can do other work meanwhile. The
        call returned waits for them and reports the files."""
        self._manifest.update(relative for relative, _ in jobs)
        parts = each_chunk(
            _render_and_write,
            range(len(jobs)),
            shared=(self.root, jobs, render),
            progress=progress,
            weight=weight,
        )

        def finish() -> None:
            done = [written for part in parts for written in part]
            for (relative, _), written in zip(jobs, done, strict=True):
                if written:
                    self.report.written.append(relative)
                else:
                    self.report.unchanged += 1

        return finish

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


def _render_and_write(numbers: Sequence[int]) -> list[bool]:
    """In a worker: render each job and write it, the disk work on a few threads while the
    next job renders (creating files and renaming wait on the file system, not on the
    interpreter). At most ``IN_FLIGHT`` rendered files wait in memory. True: written."""
    root, jobs, render = shared()
    done: list[bool] = []
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="write") as pool:
        pending: deque[Future[bool]] = deque()
        for number in numbers:
            relative, job = jobs[number]
            pending.append(pool.submit(write_atomic, root / relative, render(job)))
            if len(pending) >= IN_FLIGHT:
                done.append(pending.popleft().result())
        done.extend(written.result() for written in pending)
    return done


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
