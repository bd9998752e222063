"""Metrics counters: attempts by outcome and a cumulative latency histogram, added to at
settlement, summed over the shards of several deliverers."""

from __future__ import annotations

from syndicator.push import counters
from syndicator.push.sender import Attempt, Outcome
from syndicator.store.database import open_engine


def test_attempts_are_counted_by_outcome_and_latency_bucket(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as connection:
        counters.add_attempts(
            connection,
            [Attempt(204, 40.0, None), Attempt(500, 100.0, "HTTP 500"), Attempt(410, 3000.0, "")],
            shard=0,
        )
        counters.add_attempts(connection, [Attempt(None, 40000.0, "timed out")], shard=5)
        totals = counters.read(connection)
    engine.dispose()

    assert counters.attempts_by_outcome(totals) == {
        Outcome.DELIVERED: 1,
        Outcome.GONE: 1,
        Outcome.FAILED: 2,
    }
    within = {bound: totals[f"latency:le:{bound}"] for bound in counters.LATENCY_BUCKETS}
    assert within == {
        0.05: 1,
        0.1: 2,
        0.25: 2,
        0.5: 2,
        1.0: 2,
        2.5: 2,
        5.0: 3,
        10.0: 3,
        15.0: 3,
        30.0: 3,
    }
    assert (totals["latency:count"], totals["latency:sum_ms"]) == (4, 43140.0)
