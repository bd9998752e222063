"""The delivery loop: claim due deliveries in batches, post them concurrently, settle them.

One loop thread talks to the store (a round settles what finished and claims what is due, in
one transaction of a few statements, hundreds of deliveries at a time); the sender's event loop
does the HTTP, at most ``push.max_concurrency`` posts at once. A claimed batch is split by
endpoint into runs of a few deliveries, each posted in turn over one kept-alive connection, so
a hand-off and a signing key are paid per run, not per post.

Retention runs beside it (``syndicator.push.retention``): every hour, in a thread of its own,
in small batches.

One slow or dead endpoint never delays the others: at most ``per_endpoint`` of its deliveries
are in flight, a run stops at the first attempt that got no answer (the rest go back as they
were, unsent), and a run starts no post once ``timeout`` has passed since it began, so it ends
well within the lease (``2 × timeout + 30 s``).

Webhooks and WebSub content distribution go through the same loop; they differ only in what is
sent (``_request``). A WebSub body is read from the output folder when sent, so a deliverer
that serves WebSub subscribers needs the output folder (as in ``--role all``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from syndicator.config import Config
from syndicator.push import queue as lease_queue
from syndicator.push.counters import SHARDS
from syndicator.push.distribution import distribution
from syndicator.push.polling import PollingWorker
from syndicator.push.queue import Claimed, Settled
from syndicator.push.sender import Attempt, Sender
from syndicator.push.signing import WebhookSigner
from syndicator.push.wakeups import Listener

log = logging.getLogger("syndicator.push")
Clock = Callable[[], datetime]
IDLE_POLL_SECONDS = 0.5
RUN = 16
"""Deliveries to one endpoint posted in a row, over one connection."""
BACKLOG = 4
"""Rounds' worth of runs claimed ahead, so the loop has posts to make while a round waits on the
store (on PostgreSQL a round is a dozen round trips: with 2, one deliverer kept 0.46 of a core
busy and made 2,447/s; with 4, 0.62 and 3,083/s, bench/scale.py under load 5)."""
SETTLE_BATCH = 128
"""Results waiting that call for a round: settled soon (a crash repeats little) and in batches
(a round's fixed cost, a transaction and a dozen statements, is paid by many deliveries)."""
SETTLE_WAIT_SECONDS = 0.2
"""The longest a result waits for a round once fewer than ``SETTLE_BATCH`` are waiting."""
_JSON = {"Content-Type": "application/json"}


def _clock() -> datetime:
    return datetime.now(UTC)


def take_back(engine: Engine) -> None:
    """Make every delivery left in flight due again: only for the store's only deliverer, when
    the one before it is gone (its leases would otherwise hold them for minutes)."""
    with engine.begin() as connection:
        released = lease_queue.release_all(connection)
    if released:
        log.info("took back %d deliveries left in flight by the previous run", released)


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
        self.sender = Sender(allow_private=config.push.allow_private_targets)
        self._posting = asyncio.Semaphore(self.slots)
        # Runs of one endpoint in flight at once: its share of the posts.
        self.per_endpoint = max(1, self.slots // 4) * RUN
        self.timeout = config.push.timeout_seconds
        # Long enough that a live worker always settles before anyone else may take over.
        self.lease = timedelta(seconds=self.timeout * 2 + 30)
        self.sole_deliverer = sole_deliverer
        self.shard = random.randrange(SHARDS)
        self._done: queue.SimpleQueue[Settled] = queue.SimpleQueue()
        self._busy: Counter[str] = Counter()
        # Claimed and not yet settled, and what the claims keep in hand at most.
        self._in_flight = 0
        self._window = BACKLOG * self.slots * RUN
        self._settled_at = time.monotonic()
        self._signers: dict[str, WebhookSigner] = {}
        super().__init__("deliverer", idle_seconds=IDLE_POLL_SECONDS, log=log)
        self._listener = Listener(engine, self.wake)

    def start(self) -> None:
        if self.sole_deliverer:
            take_back(self.engine)
        super().start()
        self._listener.start()

    def stop(self) -> None:
        """Stop claiming, let attempts under way finish (bounded by the timeout), settle them."""
        self._listener.stop()
        super().stop()
        self.sender.close()
        self._settle()

    def _round(self) -> bool:
        """Settle what finished and claim what is due, in one transaction: a round's cost in
        the store, not a delivery's, bounds the throughput. So a round waits until it has
        enough to do (``_worth_a_round``)."""
        if not self._worth_a_round():
            return False
        results = self._finished()
        self._in_flight -= len(results)
        try:
            with self.engine.begin() as connection:
                reports = self._settle_in(connection, results)
                taken = self._claim(connection)
        except Exception:
            # Kept for the next round: dropped, these sent requests would be sent again once
            # their lease ran out.
            for result in results:
                self._done.put(result)
            self._in_flight += len(results)
            raise
        self._log_settled(results, reports)
        self._settled_at = time.monotonic()
        self._in_flight += len(taken)
        runs: dict[str, list[Claimed]] = {}
        for claimed in taken:
            self._busy[claimed.subscription_id] += 1
            run = runs.setdefault(claimed.subscription_id, [])
            run.append(claimed)
            if len(run) == RUN:
                self.sender.run(self._deliver(runs.pop(claimed.subscription_id)))
        for run in runs.values():
            self.sender.run(self._deliver(run))
        return bool(results or taken)

    def _worth_a_round(self) -> bool:
        """Whether to go to the store now: enough results to settle, or few enough deliveries
        in hand that a claim fills half the window (claims of a handful, one per round, made
        runs of one delivery and rounds that cost more than the posts), or a result has
        waited ``SETTLE_WAIT_SECONDS``. An idle deliverer always looks (at the poll)."""
        waiting = self._done.qsize()
        return (
            waiting >= SETTLE_BATCH
            or self._in_flight - waiting <= self._window // 2
            or (waiting > 0 and time.monotonic() - self._settled_at >= SETTLE_WAIT_SECONDS)
        )

    def _claim(self, connection: Connection) -> list[Claimed]:
        free = self._window - (self._in_flight - self._done.qsize())
        if free < self._window // 2:
            return []
        return lease_queue.claim(
            connection,
            self.clock(),
            limit=free,
            lease=self.lease,
            busy=self._busy,
            per_endpoint=BACKLOG * self.per_endpoint,
        )

    async def _deliver(self, run: Sequence[Claimed]) -> None:
        """Post a run to one endpoint in turn; what is left after a post that got no answer,
        or once the run has taken ``timeout``, goes back unsent. Each result is handed over
        as it comes, so a crash repeats at most what the next round had not yet settled."""
        async with self._posting:
            started = time.monotonic()
            stopped = False
            for claimed in run:
                if stopped or time.monotonic() - started > self.timeout:
                    self._done.put(Settled(claimed, None, self.clock()))
                    continue
                try:
                    body, headers = self._request(claimed)
                    attempt = await self.sender.send(claimed.url, body, headers, self.timeout)
                except Exception as exc:  # never lose a claimed delivery to a bug in one attempt
                    attempt = Attempt(None, 0.0, f"{type(exc).__name__}: {exc}")
                self._done.put(Settled(claimed, attempt, self.clock()))
                if self._done.qsize() >= SETTLE_BATCH:
                    self.wake()
                stopped = attempt.status is None
        self.wake()

    def _request(self, claimed: Claimed) -> tuple[bytes, dict[str, str]]:
        """Body and headers of one attempt, signed now (a webhook's timestamp is the attempt's)."""
        if claimed.topic is not None:
            return distribution(self.config, claimed.topic, claimed.secret)
        signer = self._signers.get(claimed.secret)
        if signer is None:
            if len(self._signers) > 100_000:
                self._signers.clear()
            signer = self._signers[claimed.secret] = WebhookSigner(claimed.secret)
        headers = signer.headers(claimed.message_id, int(time.time()), claimed.body)
        headers.update(_JSON)
        return claimed.body, headers

    def _finished(self) -> list[Settled]:
        results: list[Settled] = []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                return results

    def _settle_in(self, connection: Connection, results: Sequence[Settled]) -> list[str]:
        if not results:
            return []
        return lease_queue.settle(
            connection, results, schedule=self.config.push.retry_schedule, shard=self.shard
        )

    def _settle(self) -> None:
        """Record what finished after the loop stopped."""
        results = self._finished()
        if results:
            with self.engine.begin() as connection:
                reports = self._settle_in(connection, results)
            self._log_settled(results, reports)

    def _log_settled(self, results: Sequence[Settled], reports: list[str]) -> None:
        for result in results:
            self._busy[result.claimed.subscription_id] -= 1
            if result.attempt is not None and result.attempt.error:
                log.info(
                    "delivery %s to %s: %s",
                    result.claimed.id,
                    result.claimed.subscription_id,
                    result.attempt.error,
                )
        self._busy += Counter()  # drops the endpoints with nothing in flight
        for report in reports:
            log.warning("%s", report)
