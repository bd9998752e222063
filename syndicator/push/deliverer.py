"""The delivery loop: claim due deliveries, post them concurrently, settle the results.

One loop thread talks to the store (claims and settlements in batches, so the database is not
the bottleneck); a pool of ``push.max_concurrency`` threads does the HTTP over keep-alive
connections they share. A per-endpoint cap keeps one slow or dead endpoint from holding every
thread, so the others are never delayed by it.

Webhooks and WebSub content distribution go through the same loop; they differ only in what is
sent (``_request``). A WebSub body is read from the output folder when sent, so a deliverer
that serves WebSub subscribers needs the output folder (as in ``--role all``).
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from syndicator.config import Config
from syndicator.push import outbox, websub
from syndicator.push.outbox import Claimed
from syndicator.push.polling import PollingWorker
from syndicator.push.sender import Attempt, Sender
from syndicator.push.signing import webhook_headers

log = logging.getLogger("syndicator.push")
Clock = Callable[[], datetime]
IDLE_POLL_SECONDS = 0.5
BACKLOG = 2


def _clock() -> datetime:
    return datetime.now(UTC)


class Deliverer(PollingWorker):
    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        clock: Clock = _clock,
        sole_deliverer: bool = False,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.slots = max(1, config.push.max_concurrency)
        self.sender = Sender(allow_private=config.push.allow_private_targets, threads=self.slots)
        self.per_endpoint = max(1, self.slots // 4)
        self.timeout = config.push.timeout_seconds
        # Long enough that a live worker always settles before anyone else may take over.
        self.lease = timedelta(seconds=self.timeout * 2 + 30)
        self.sole_deliverer = sole_deliverer
        self._done: queue.Queue[tuple[Claimed, Attempt, datetime]] = queue.Queue()
        self._busy: Counter[str] = Counter()
        super().__init__("deliverer", workers=self.slots, idle_seconds=IDLE_POLL_SECONDS, log=log)

    def start(self) -> None:
        if self.sole_deliverer:
            with self.engine.begin() as connection:
                released = outbox.release_all(connection)
            if released:
                log.info("took back %d deliveries left in flight by the previous run", released)
        super().start()

    def stop(self) -> None:
        """Stop claiming, let attempts under way finish (bounded by the timeout), settle them."""
        super().stop()
        self._settle()
        self.sender.close()

    def _round(self) -> bool:
        """Settle what finished and claim what is due, in one transaction: a round's cost in
        the store, not a delivery's, bounds the throughput to a busy endpoint."""
        results = self._finished()
        try:
            with self.engine.begin() as connection:
                reports = (
                    outbox.settle(connection, results, schedule=self.config.push.retry_schedule)
                    if results
                    else []
                )
                taken = self._claim(connection)
        except Exception:
            # Kept for the next round: dropped, these sent requests would be sent again once
            # their lease ran out.
            for result in results:
                self._done.put(result)
            raise
        self._log_settled(results, reports)
        for claimed in taken:
            self._busy[claimed.subscription_id] += 1
            self._pool.submit(self._deliver, claimed)
        return bool(results or taken)

    def _claim(self, connection: Connection) -> list[Claimed]:
        # Up to one round's worth waits in the pool's queue, so no thread idles between the end
        # of an attempt and the next round; a dead endpoint still holds at most
        # BACKLOG × per_endpoint threads.
        free = BACKLOG * self.slots - sum(self._busy.values())
        if free <= 0:
            return []
        return outbox.claim(
            connection,
            self.clock(),
            limit=free,
            lease=self.lease,
            busy=self._busy,
            per_endpoint=BACKLOG * self.per_endpoint,
        )

    def _deliver(self, claimed: Claimed) -> None:
        try:
            body, headers = self._request(claimed)
            attempt = self.sender.post(claimed.url, body, headers, self.timeout)
        except Exception as exc:  # never lose a claimed delivery to a bug in one attempt
            attempt = Attempt(None, 0.0, f"{type(exc).__name__}: {exc}")
        self._done.put((claimed, attempt, self.clock()))
        self.wake()

    def _request(self, claimed: Claimed) -> tuple[bytes, dict[str, str]]:
        """Body and headers of one attempt, signed now (a webhook's timestamp is the attempt's)."""
        if claimed.topic is not None:
            return websub.distribution(self.config, claimed.topic, claimed.secret)
        headers = webhook_headers(
            claimed.secret, claimed.message_id, int(time.time()), claimed.body
        )
        headers["Content-Type"] = "application/json"
        return claimed.body, headers

    def _finished(self) -> list[tuple[Claimed, Attempt, datetime]]:
        results: list[tuple[Claimed, Attempt, datetime]] = []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                return results

    def _settle(self) -> None:
        """Record what finished after the loop stopped."""
        results = self._finished()
        if results:
            with self.engine.begin() as connection:
                reports = outbox.settle(
                    connection, results, schedule=self.config.push.retry_schedule
                )
            self._log_settled(results, reports)

    def _log_settled(
        self, results: list[tuple[Claimed, Attempt, datetime]], reports: list[str]
    ) -> None:
        for claimed, attempt, _ in results:
            self._busy[claimed.subscription_id] -= 1
            if attempt.error:
                log.info(
                    "delivery %s to %s: %s", claimed.id, claimed.subscription_id, attempt.error
                )
        for report in reports:
            log.warning("%s", report)
