"""A deliverer posts the deliveries of one endpoint in runs; a run never outlasts its lease:
it stops at the first post that got no answer, and starts none once the timeout has passed.
What it did not send goes back unsent (no attempt), so it is sent later, not lost."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from syndicator.config import Config, with_overrides
from syndicator.push.deliverer import Deliverer
from syndicator.push.queue import Claimed, Settled
from syndicator.push.signing import generate_secret
from syndicator.store.database import open_engine

from .receivers import Receiver, reply


def _run(tmp_path: Path, url: str, count: int, timeout: float) -> list[Settled]:
    config = with_overrides(
        Config(),
        store={"url": f"sqlite:///{tmp_path / 's.db'}"},
        push={"allow_private_targets": True, "timeout_seconds": timeout},
    )
    engine = open_engine(config.store.url)
    deliverer = Deliverer(config, engine)
    secret = generate_secret()
    run = [Claimed(n, f"msg_{n}", 0, "sub_1", url, secret, b"{}") for n in range(count)]
    try:
        deliverer.sender.run(deliverer._deliver(run))
    finally:
        deliverer.sender.close()  # once the run has ended
        engine.dispose()
    return deliverer._finished()


def test_a_run_stops_at_the_first_post_without_answer(tmp_path, closed_port):
    # Refused at once: well within the timeout, so only the failure stops the run.
    results = _run(tmp_path, f"http://127.0.0.1:{closed_port}/hook", 3, timeout=10)

    assert [r.claimed.id for r in results] == [0, 1, 2]
    assert results[0].attempt is not None and results[0].attempt.status is None
    assert "ConnectionRefusedError" in (results[0].attempt.error or "")
    assert [r.attempt for r in results[1:]] == [None, None]


def test_a_run_starts_no_post_once_its_timeout_has_passed(tmp_path, serve):
    def slow(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
        time.sleep(0.4)
        reply(204)(handler, receiver)

    endpoint = serve(slow)

    results = _run(tmp_path, endpoint.url(), 6, timeout=1.0)

    sent = [r for r in results if r.attempt is not None]
    assert sent and all(r.attempt is not None and r.attempt.status == 204 for r in sent)
    assert results[: len(sent)] == sent, "the posts made come first, the ones left after"
    assert len(sent) < 6
    assert len(endpoint.received) == len(sent)
