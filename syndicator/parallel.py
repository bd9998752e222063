"""Using both cores for the CPU-bound stages (parsing, rendering entries).

Work goes to forked processes in chunks. Large shared inputs are put in a module global before
the fork, so each worker reads them from inherited memory instead of receiving a pickled copy.
Small jobs run inline: a process pool costs more than it saves below a few hundred documents.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

INLINE_BELOW = 400
_SHARED: Any = None


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shared() -> Any:
    """The object given to ``map_chunks`` as ``shared``, inside a worker."""
    return _SHARED


def map_chunks(
    fn: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    shared: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``fn`` over consecutive chunks of ``items``, results flattened in order."""
    global _SHARED
    _SHARED = shared
    count = workers()
    try:
        if len(items) < INLINE_BELOW or count < 2:
            return fn(items)
        size = max(50, len(items) // (count * 8))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        results: list[R] = []
        context = multiprocessing.get_context("fork")
        # Frozen objects are never scanned by the cyclic collector: the workers then neither
        # spend time walking the inherited heap nor copy its pages by touching it.
        gc.freeze()
        try:
            with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
                for part in pool.map(fn, chunks):
                    results.extend(part)
                    if progress:
                        progress(len(results), len(items))
        finally:
            gc.unfreeze()
        return results
    finally:
        _SHARED = None
