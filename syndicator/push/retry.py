"""When to try a failed delivery again, and when to give up on an endpoint.

Pure functions: the clock and the randomness come in as arguments, so the worker and the tests
get the same answers for the same inputs.
"""

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from syndicator.config import PushConfig

DEFAULT_SCHEDULE = PushConfig.retry_schedule
# Spreads the retries of many deliveries that failed together (an endpoint's outage) so they
# do not all return at the same second.
DEFAULT_JITTER = 0.1
DEFAULT_DISABLE_AFTER = timedelta(days=5)
# The longest wait an endpoint's Retry-After can impose: past the time after which a failing
# endpoint is disabled there is no point, and an absurd value must not overflow the date.
MAX_RETRY_AFTER = DEFAULT_DISABLE_AFTER.total_seconds()

_SHARED_RNG = random.Random()


def next_attempt_at(
    attempts: int,
    failed_at: datetime,
    *,
    schedule: Sequence[float] = DEFAULT_SCHEDULE,
    jitter: float = DEFAULT_JITTER,
    rng: random.Random | None = None,
    retry_after: float | None = None,
) -> datetime | None:
    """When to make the next attempt, or None once the schedule is spent (dead letter).

    `attempts` counts the attempts made so far, the failed one included (1 after the first);
    the wait after the n-th is `schedule[n - 1]` give or take `jitter` (a fraction of it).
    `retry_after`, the endpoint's own wait in seconds, is a floor: never sooner than asked
    (up to `MAX_RETRY_AFTER`).
    """
    if attempts < 1:
        raise ValueError(f"attempts counts the attempts made, so starts at 1, not {attempts}")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter is a fraction of the delay in [0, 1), not {jitter}")
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * (1 + (rng or _SHARED_RNG).uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return failed_at + timedelta(seconds=delay)


def should_disable(
    first_failure_at: datetime,
    now: datetime,
    disable_after: timedelta = DEFAULT_DISABLE_AFTER,
) -> bool:
    """Whether an endpoint has failed every attempt for long enough to be disabled.

    `first_failure_at` is the first failed attempt since the endpoint last accepted one: any
    success starts the count again, so a flaky endpoint is kept and a dead one is not.
    """
    return now - first_failure_at >= disable_after
