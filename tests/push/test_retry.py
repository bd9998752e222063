import random
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.push.retry import DEFAULT_SCHEDULE, next_attempt_at, should_disable

FAILED_AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def delay(when: datetime | None) -> float:
    assert when is not None
    return (when - FAILED_AT).total_seconds()


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 5), (2, 300), (3, 1800), (4, 7200), (5, 18000), (6, 36000), (7, 36000)],
)
def test_without_jitter_the_default_schedule_is_followed(attempts, expected):
    assert delay(next_attempt_at(attempts, FAILED_AT, jitter=0)) == expected


def test_the_schedule_ends_in_a_dead_letter():
    assert next_attempt_at(len(DEFAULT_SCHEDULE) + 1, FAILED_AT) is None
    assert next_attempt_at(2, FAILED_AT, schedule=[10]) is None
    assert delay(next_attempt_at(1, FAILED_AT, schedule=[10], jitter=0)) == 10


def test_jitter_stays_within_its_fraction_and_varies():
    rng = random.Random(1)
    delays = [delay(next_attempt_at(2, FAILED_AT, rng=rng)) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert max(delays) - min(delays) > 30  # spread over most of the ±10 % band
    assert len(set(delays)) > 150


def test_the_same_seed_gives_the_same_times():
    first = next_attempt_at(3, FAILED_AT, rng=random.Random(7))
    assert first == next_attempt_at(3, FAILED_AT, rng=random.Random(7))
    assert first != next_attempt_at(3, FAILED_AT, rng=random.Random(8))


def test_retry_after_is_a_floor_never_a_ceiling():
    rng = random.Random(3)
    assert delay(next_attempt_at(1, FAILED_AT, rng=rng, retry_after=600)) == 600
    later = delay(next_attempt_at(2, FAILED_AT, rng=rng, retry_after=1))
    assert 270 <= later <= 330


def test_an_absurd_retry_after_is_capped():
    assert (
        delay(next_attempt_at(1, FAILED_AT, retry_after=1e15)) == timedelta(days=5).total_seconds()
    )


def test_retry_after_does_not_revive_a_spent_schedule():
    assert next_attempt_at(8, FAILED_AT, retry_after=5) is None


@pytest.mark.parametrize(("attempts", "jitter"), [(0, 0.1), (-1, 0.1), (1, -0.1), (1, 1.0)])
def test_nonsense_arguments_are_refused(attempts, jitter):
    with pytest.raises(ValueError):
        next_attempt_at(attempts, FAILED_AT, jitter=jitter)


@pytest.mark.parametrize(
    ("failing_for", "disabled"),
    [
        (timedelta(0), False),
        (timedelta(days=4, hours=23, minutes=59), False),
        (timedelta(days=5), True),
        (timedelta(days=9), True),
    ],
)
def test_an_endpoint_failing_for_five_days_is_disabled(failing_for, disabled):
    assert should_disable(FAILED_AT, FAILED_AT + failing_for) is disabled


def test_the_disable_delay_can_be_changed():
    assert should_disable(FAILED_AT, FAILED_AT + timedelta(hours=2), timedelta(hours=1))
    assert not should_disable(FAILED_AT, FAILED_AT + timedelta(hours=2), timedelta(days=1))
