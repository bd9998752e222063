"""Using both cores for the CPU-bound stages (parsing, rendering entries, writing pages).

Work goes to worker processes in chunks. Large shared inputs reach the workers one of two ways:

- In a process with no other thread (``syndicator build``, ``check``), the workers are forked
  and read the shared inputs from inherited memory, put in a module global before the fork:
  nothing is pickled and nothing is copied until touched.
- In a process where threads run (``syndicator run``: the server, deliverer, scheduler and
  watcher), forking would copy whatever locks those threads hold at that instant (the logging
  lock, a SQLite mutex, the allocator's) into a child where no thread will ever release them.
  There the workers come from a fork server, a single-threaded process started before any
  thread (``prepare``), and the shared inputs are pickled to each worker once per call. A pool
  lives for one call, so a worker that died never poisons the next scan.

Small jobs run inline: a process pool costs more than it saves below a few hundred documents'
worth of work (``INLINE_BELOW``; a caller whose items cost more each says how many times more,
its ``weight``).
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import operator
import os
import sys
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

C = TypeVar("C", bound=type)

T = TypeVar("T")
R = TypeVar("R")

# In readings of a document: below this much work, forking the workers costs more than
# sharing the work saves.
INLINE_BELOW = 400
# Forked workers keep a private copy of each page of the inherited heap they touch (reading
# an object writes its reference count) until they exit: two workers rendering 100,000
# entries held most of the catalog twice over. Larger jobs go to a fresh pool this many items
# at a time, so the copies go back to the system as each pool ends.
ROUND_ITEMS = 25_000
# Imported once by the fork server, so that each worker it forks starts with them loaded.
PRELOAD = ["syndicator.engine.reading", "syndicator.engine.render", "syndicator.output.writer"]
_SHARED: Any = None


class ForkAfterThreads(RuntimeError):
    """A fork was attempted while other threads ran (see ``forbid_fork_after_threads``)."""


def sent_as_fields(cls: C) -> C:
    """Pickle a frozen dataclass with slots as the arguments of its constructor.

    ``dataclasses`` pickles such a class through a ``__getstate__`` and ``__setstate__`` that
    loop over ``fields()`` in Python for every object. The reading workers send each file's
    source, item, problems and result back to this process: on 5,000 documents that cost
    47 µs a document to pickle and unpickle, against 25 µs this way.
    """
    names = [field.name for field in dataclasses.fields(cls)]
    if len(names) < 2:  # attrgetter of one name gives the value, not a tuple
        raise TypeError(f"{cls.__name__}: sent_as_fields needs two fields or more")
    values = operator.attrgetter(*names)

    def __reduce__(self: object) -> tuple[type, tuple[object, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shared() -> Any:
    """The object given to ``map_chunks`` as ``shared``, inside a worker."""
    return _SHARED


def _set_shared(value: Any) -> None:
    global _SHARED
    _SHARED = value


def prepare() -> None:
    """Start the fork server now, while this process has a single thread: called by
    ``syndicator run`` before its threads start."""
    multiprocessing.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def forbid_fork_after_threads() -> None:
    """Refuse any ``os.fork`` while another thread runs, anywhere in the process (an audit
    hook: it sees forks made by libraries too). ``SYNDICATOR_CHECK_FORKS=1`` turns it on in
    ``syndicator run``; the fork-safety test runs the worker that way."""

    def hook(event: str, _args: tuple[object, ...]) -> None:
        if event == "os.fork" and threading.active_count() > 1:
            names = sorted(t.name for t in threading.enumerate())
            raise ForkAfterThreads(f"fork refused: {len(names)} threads running ({names})")

    sys.addaudithook(hook)


def map_chunks(
    fn: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    shared: Any = None,
    progress: Callable[[int, int], None] | None = None,
    weight: int = 1,
) -> list[R]:
    """``fn`` over consecutive chunks of ``items``, results flattened in order."""
    results: list[R] = []
    for part in each_chunk(fn, items, shared=shared, progress=progress, weight=weight):
        results.extend(part)
    return results


def each_chunk(
    fn: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    shared: Any = None,
    progress: Callable[[int, int], None] | None = None,
    weight: int = 1,
) -> Generator[list[R], None, None]:
    """``fn`` over consecutive chunks of ``items``, each chunk's results as they come, in
    order: a caller that packs them need never hold them all as separate objects. ``weight``:
    what an item costs, in readings of a document (it sets when the workers pay off).

    The workers are at work when this returns, before a result is asked for: a caller can
    start work it needs later and do something else meanwhile (``engine.reading.ReadAhead``).
    Closing the iterator drops the chunks not begun."""
    chunks = _each_chunk(fn, items, shared, progress, weight)
    next(chunks)  # up to the start marker: the workers are forked
    return chunks


def _each_chunk(
    fn: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    shared: Any,
    progress: Callable[[int, int], None] | None,
    weight: int,
) -> Generator[list[R], None, None]:
    """``each_chunk``'s results, after an empty list that marks the workers started."""
    count = workers()
    if len(items) * weight < INLINE_BELOW or count < 2:
        yield []
        _set_shared(shared)
        try:
            yield fn(items)
        finally:
            _set_shared(None)
        return
    if threading.active_count() > 1:
        pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_set_shared,
            initargs=(shared,),
        )
        yield from _collect(pool, pool.map(fn, _chunks(items, count)), 0, len(items), progress)
        return
    for start in range(0, len(items), ROUND_ITEMS):
        pool, parts = _forked(fn, items[start : start + ROUND_ITEMS], count, shared)
        results = _collect(pool, parts, start, len(items), progress)
        if start:
            next(results)  # the first round's start marker was the one
        yield from results


def _forked(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], count: int, shared: Any
) -> tuple[ProcessPoolExecutor, Iterator[list[R]]]:
    """A pool of forked workers given every chunk of ``items``; ``shared`` is theirs through
    the memory they inherit, and this process lets go of it once they are forked."""
    _set_shared(shared)
    try:
        with _heap_frozen():
            pool = ProcessPoolExecutor(
                max_workers=count, mp_context=multiprocessing.get_context("fork")
            )
            # The first task forks every worker (a fork pool starts them all at once).
            return pool, pool.map(fn, _chunks(items, count))
    finally:
        _set_shared(None)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """For forking children: frozen objects are never scanned by the cyclic collector, so
    the children neither spend time walking the inherited heap nor copy its pages by
    touching it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Beside(Generic[R]):
    """Work in two steps, the second only once this process says so, run in a forked child
    while this process does other work (on the other core), or here when that does not pay.

    ``steps`` is a generator: its code up to its one ``yield`` is the first step, the rest is
    the second, and what it returns is the result. ``commit`` runs the second step and gives
    the result, ``abandon`` closes the generator at its ``yield`` instead (a ``with`` around it
    exits with ``GeneratorExit``). The child is forked at once, and only for work of ``size``
    items between ``INLINE_BELOW`` and ``ROUND_ITEMS`` (a child touching more would copy
    the inherited heap's pages, as a round's workers do) in a process with no other thread
    (``forbid_fork_after_threads``); ``after_fork`` runs first in the child. Here, the first
    step runs at ``begin``, where the caller has the other core busy.
    """

    def __init__(
        self,
        steps: Generator[None, None, R],
        *,
        size: int,
        after_fork: Callable[[], None],
    ) -> None:
        self._steps = steps
        self._child: BaseProcess | None = None
        if not INLINE_BELOW <= size < ROUND_ITEMS or workers() < 2 or threading.active_count() > 1:
            return
        self._pipe, theirs = multiprocessing.Pipe()
        context = multiprocessing.get_context("fork")
        self._child = context.Process(
            target=_beside_child, args=(steps, after_fork, theirs), name="beside", daemon=True
        )
        with _heap_frozen():
            self._child.start()
        theirs.close()

    def begin(self) -> None:
        """Run the first step here, unless a child runs it already."""
        if self._child is None:
            next(self._steps)

    def commit(self) -> R:
        """The second step, then the result (raising what either step raised)."""
        if self._child is None:
            return _second_step(self._steps)
        result: R = self._outcome(True)
        return result

    def abandon(self) -> None:
        """Close the work at its ``yield``; what closing raises is raised here (not what the
        first step raised: the caller abandons because of an error of its own)."""
        if self._child is None:
            self._steps.close()
        else:
            self._outcome(False)

    def _outcome(self, go: bool) -> Any:
        assert self._child is not None
        try:
            self._pipe.send(go)
            failed, value = self._pipe.recv()
        except (EOFError, BrokenPipeError) as exc:
            raise ChildProcessError(
                f"the process writing beside this one ended with {self._child.exitcode}"
            ) from exc
        finally:
            self._pipe.close()
            self._child.join()
        if failed:
            raise value
        return value


def _second_step(steps: Generator[None, None, R]) -> R:
    try:
        next(steps)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise RuntimeError("Beside: the steps yield more than once")


def _beside_child(
    steps: Generator[None, None, Any], after_fork: Callable[[], None], pipe: Connection
) -> None:
    """In the child: the first step, then the second or a close as the parent says; the
    outcome goes back as (failed, result or exception)."""
    outcome: tuple[bool, Any]
    try:
        after_fork()
        next(steps)
    except BaseException as exc:  # reported if the parent goes on, as a step's error;
        # abandoned, the work ends as a generator that raised ends when closed: quietly,
        # so the parent raises its own error, as it does with the work run inline
        outcome = (True, exc) if pipe.recv() else (False, None)
    else:
        try:
            if pipe.recv():
                outcome = (False, _second_step(steps))
            else:
                steps.close()
                outcome = (False, None)
        except BaseException as exc:
            outcome = (True, exc)
    try:
        pipe.send(outcome)
    except Exception:  # an exception that cannot be pickled: its type and message, at least
        error = outcome[1]
        pipe.send((True, RuntimeError(f"{type(error).__name__}: {error}")))


def _chunks(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """Eight chunks a worker: one slow chunk at the end leaves the others little to wait for."""
    size = max(50, len(items) // (count * 8))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _collect(
    pool: ProcessPoolExecutor,
    parts: Iterator[list[R]],
    done: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> Iterator[list[R]]:
    """The results of the chunks given to ``pool``, after a start marker (an empty list); the
    pool ends with the last of them, or with the iterator closed, the chunks not begun
    dropped."""
    with pool:
        yield []
        try:
            for part in parts:
                done += len(part)
                yield part
                if progress:
                    progress(done, total)
        except GeneratorExit:
            pool.shutdown(cancel_futures=True)
            raise
