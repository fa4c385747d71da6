"""Token buckets: how many events a client may take, and when it may take the next one.

Pure arithmetic over an injected clock; no threads, no I/O. Streams use one bucket each to
pace updates; a client over its rate is coalesced by the stream, never queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def seconds_until_token(self) -> float:
        """How long until ``try_take`` can succeed (0 when it can now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate


def gcra(tat: float, now: float, count: int, window_seconds: float) -> tuple[bool, float, float]:
    """At most ``count`` events per ``window_seconds`` (sliding), from one stored number.

    ``tat`` is the theoretical arrival time kept per key (0 for a new key). Returns
    ``(allowed, new_tat, retry_after_seconds)``; a refused event does not change ``tat``."""
    interval = window_seconds / count
    tat = max(tat, now)
    if tat + interval - now > window_seconds + 1e-9:
        return False, tat, tat + interval - window_seconds - now
    return True, tat + interval, 0.0
