"""Verification of intent (W3C WebSub §5.3), in the background of the process serving the hub.

The hub answers ``202 Accepted`` once a request is stored; this thread then asks the callback,
with a ``GET`` carrying ``hub.mode``, ``hub.topic``, ``hub.challenge`` and (to subscribe)
``hub.lease_seconds``, whether the subscriber meant it. Only a 2xx whose body is the challenge
counts. The GET goes through the push transport (``GuardedAdapter``: checked and pinned
addresses, no proxies, no redirects) under one deadline for the whole exchange, so a callback
that trickles its answer holds one verifier thread for ``push.timeout_seconds`` at most.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy import Engine
from urllib3.exceptions import HTTPError as TransportError

from syndicator.config import Config
from syndicator.push import websub
from syndicator.push.deadlines import Deadlines
from syndicator.push.guard import TargetRefused
from syndicator.push.pinned import GuardedAdapter
from syndicator.push.polling import PollingWorker
from syndicator.push.websub import HubRequest, PendingRequest

log = logging.getLogger("syndicator.websub")
Clock = Callable[[], datetime]
USER_AGENT = "syndicator-websub"
POLL_SECONDS = 1.0
"""How often requests stored by other hub processes (or left by a dead one) are looked for."""
WORKERS = 4
_SPARE_BYTES = 64
"""Read past the challenge, to tell an exact echo from a longer body that starts with it."""


def _clock() -> datetime:
    return datetime.now(UTC)


def verification_url(request: HubRequest, challenge: str) -> str:
    """The callback with the verification parameters added to any query it already has."""
    params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
    if request.mode == "subscribe":
        params["hub.lease_seconds"] = str(request.lease_seconds)
    parts = urlsplit(request.callback)
    query = "&".join(filter(None, (parts.query, urlencode(params))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def verify_intent(request: HubRequest, *, allow_private: bool, timeout: float) -> str | None:
    """Ask the subscriber; None when it confirmed, else why the request is not verified."""
    challenge = secrets.token_urlsafe(32)
    url = verification_url(request, challenge)
    adapter = GuardedAdapter(allow_private=allow_private)
    deadlines = Deadlines()
    cut = partial(adapter.interrupt, threading.get_ident())
    with (
        contextlib.closing(adapter),
        contextlib.closing(deadlines),
        deadlines.watch(timeout, cut) as watch,
    ):
        try:
            # Straight to the adapter, as the sender does: nothing from the environment, no
            # cookies, no redirects.
            get = requests.Request("GET", url, headers={"User-Agent": USER_AGENT}).prepare()
            with adapter.send(get, stream=True, timeout=timeout) as response:
                body = response.raw.read(len(challenge) + _SPARE_BYTES, decode_content=True)
        except (requests.RequestException, TransportError, OSError, TargetRefused) as error:
            late = " (deadline passed)" if watch.fired else ""
            return f"no answer from the callback{late}: {error}"
    if not 200 <= response.status_code < 300:
        return f"the callback answered HTTP {response.status_code}"
    if body.strip() != challenge.encode():
        return "the callback's answer is not the hub.challenge"
    return None


class Verifier(PollingWorker):
    """Takes stored requests, verifies them on a small pool, applies what was confirmed."""

    def __init__(self, config: Config, engine: Engine, *, clock: Clock = _clock) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.output_dir = Path(config.output.dir)
        self.timeout = config.push.timeout_seconds
        # Long enough that a live verifier always concludes before anyone else may take over.
        self.lease = timedelta(seconds=self.timeout * 2 + 30)
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="websub-verifier-pool")
        super().__init__("websub-verifier", idle_seconds=POLL_SECONDS, log=log)

    def stop(self) -> None:
        """Take no more requests; return once those under way are concluded."""
        super().stop()
        self._pool.shutdown(wait=True)

    def _round(self) -> bool:
        """Take what the free verifier threads can verify and hand it to them."""
        with self._busy_lock:
            free = WORKERS - self._busy
        if free <= 0:
            return False
        with self.engine.begin() as connection:
            taken = websub.claim_requests(connection, self.clock(), lease=self.lease, limit=free)
        with self._busy_lock:
            self._busy += len(taken)
        for pending in taken:
            self._pool.submit(self._verify, pending)
        return bool(taken)

    def _verify(self, pending: PendingRequest) -> None:
        request = pending.request
        try:
            refused = verify_intent(
                request,
                allow_private=self.config.push.allow_private_targets,
                timeout=self.timeout,
            )
            with self.engine.begin() as connection:
                websub.conclude(
                    connection,
                    pending,
                    verified=refused is None,
                    output_dir=self.output_dir,
                    now=self.clock(),
                )
        except Exception:  # the request stays stored and is taken again once its lease passes
            log.exception("verifying %s of %s failed", request.mode, request.callback)
        else:
            outcome = "verified" if refused is None else f"not verified: {refused}"
            log.info(
                "WebSub %s of %s to %s %s", request.mode, request.callback, request.topic, outcome
            )
        finally:
            with self._busy_lock:
                self._busy -= 1
            self.wake()
