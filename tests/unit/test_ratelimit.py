"""Unit tests for g6app.ratelimit: the token bucket, driven by a fake clock."""

from __future__ import annotations

import pytest

from g6app.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ratelimit_burst_then_empty():
    """A new bucket allows ``burst`` takes at once, then refuses."""
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]


def test_ratelimit_refill_at_rate():
    """Tokens come back at ``rate`` per second, never beyond ``burst``."""
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    while bucket.try_take():
        pass
    clock.now += 0.25  # half a token
    assert not bucket.try_take()
    clock.now += 0.25  # one token
    assert bucket.try_take()
    assert not bucket.try_take()
    clock.now += 100  # long idle: capped at burst
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]


def test_ratelimit_seconds_until_token():
    """seconds_until_token is 0 with a token and the exact wait without one."""
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=1, clock=clock)
    assert bucket.seconds_until_token() == 0.0
    assert bucket.try_take()
    assert bucket.seconds_until_token() == pytest.approx(0.25)
    clock.now += 0.1
    assert bucket.seconds_until_token() == pytest.approx(0.15)
    clock.now += 0.15
    assert bucket.seconds_until_token() == 0.0
    assert bucket.try_take()


def test_ratelimit_asking_does_not_consume():
    """seconds_until_token only looks; it never takes a token."""
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    for _ in range(3):
        assert bucket.seconds_until_token() == 0.0
    assert bucket.try_take()


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 2), (1, 0.5)])
def test_ratelimit_rejects_bad_parameters(rate, burst):
    """A non-positive rate or a burst below one token is a programming error."""
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst, clock=FakeClock())
