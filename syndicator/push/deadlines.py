"""Deadlines for blocking HTTP exchanges: a thread cuts an exchange's connections once its time
is up.

Socket timeouts bound each read, not a whole exchange, so a server trickling its answer would
hold a blocking caller for as long as it likes. The WebSub verifier's GETs (requests, blocking)
are bounded this way; the fan-out's posts run on an event loop whose total timeouts need none.
"""

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator

_RECUT_SECONDS = 0.1


class _Watch:
    """One exchange under a deadline: what to cut, and whether it was cut."""

    __slots__ = ("cut", "done", "fired")

    def __init__(self, cut: Callable[[], None]) -> None:
        self.cut = cut
        self.done = False
        self.fired = False


class Deadlines:
    """Cuts an exchange's connections once its time is up, and again every tenth of a second
    until it ends, so that a connection still being opened when time ran out is cut as soon as
    it exists.

    One thread watches every exchange of its owner: a thread started and joined for each post
    cost 0.1 to 0.3 ms, a sixth of a delivery or more. A finished exchange is only marked
    done, and dropped once it comes first in the queue, so the thread wakes about once per
    timeout, not once per post. Cuts are made under the lock that ends an exchange, so once
    `watch` has returned no cut can reach the thread's next post.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queue: list[tuple[float, int, _Watch]] = []
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, seconds: float, cut: Callable[[], None]) -> Iterator[_Watch]:
        """Run the body of the `with` under a deadline `seconds` from now; `cut` is called
        (from the deadline thread) while it is late."""
        watch = _Watch(cut)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="push-deadlines", daemon=True
                )
                self._thread.start()
            self._push(time.monotonic() + seconds, watch)
        try:
            yield watch
        finally:
            with self._lock:
                watch.done = True

    def close(self) -> None:
        """Stop the thread; a later `watch` starts another."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._lock.notify_all()
        if thread is not None:
            thread.join()

    def _push(self, deadline: float, watch: _Watch) -> None:
        heapq.heappush(self._queue, (deadline, next(self._count), watch))
        if self._queue[0][2] is watch:
            self._lock.notify_all()

    def _run(self) -> None:
        with self._lock:
            while self._thread is threading.current_thread():
                while self._queue and self._queue[0][2].done:
                    heapq.heappop(self._queue)
                if not self._queue:
                    self._lock.wait()
                    continue
                wait = self._queue[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, watch = heapq.heappop(self._queue)
                watch.fired = True
                watch.cut()
                self._push(time.monotonic() + _RECUT_SECONDS, watch)
