"""Cluster-wide admission in Redis: one connection cap and one connect rate for every instance.

A slot is a member of one sorted set scored by its lease expiry (Redis's clock); each worker
renews the leases of the streams it holds every third of the lease, so the slots of an instance
that died (SIGKILL, power loss) expire within one lease, with no manual step. Check-and-take is
one Lua script each. While Redis is unreachable a worker falls back to its own memory limits
(the cap then holds per worker), so an outage never refuses every stream.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import uuid
from typing import Any

import redis

from .limits import MemoryLimits, Release
from .redis_source import connect, redact_url

logger = logging.getLogger(__name__)

SLOTS_KEY = "g6app:slots"
RATE_PREFIX = "g6app:rate:"
POOL_SIZE = 4

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS[1] slots; ARGV: cap, member, lease seconds. 1 when taken, 0 when the cap is reached.
ACQUIRE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
return 1
"""

# KEYS[1] slots; ARGV: lease seconds, members... (re-added, so a restarted Redis relearns them).
RENEW = _NOW + """
local expiry = now + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], expiry, ARGV[i]) end
return #ARGV - 1
"""

# KEYS[1] the address's key; ARGV: count, window seconds. nil when allowed, else retry seconds.
# GCRA (see ratelimit.gcra): one stored number per address, expiring when it no longer matters.
CONNECT = _NOW + """
local count, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval = window / count
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat + interval - now > window + 1e-9 then
  return string.format('%.6f', tat + interval - window - now)
end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now) * 1000) + 1000)
return false
"""


class RedisLimits:
    """The Limits interface over Redis; connects and starts its lease renewer on first use."""

    def __init__(self, url: str, max_connections: int, rate: tuple[int, float] | None,
                 lease_seconds: float = 15.0):
        self.url = url
        self.max_connections = max_connections
        self.rate = rate
        self.lease_seconds = lease_seconds
        self._fallback = MemoryLimits(max_connections, rate)
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._held: set[str] = set()
        self._ids = itertools.count()
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()  # guards _held and _renewing
        self._renewing = False
        self._failing = False

    def _script(self, name: str):
        if self._client is None:
            self._client = connect(self.url, pool_size=POOL_SIZE)
            self._scripts = {"acquire": self._client.register_script(ACQUIRE),
                             "renew": self._client.register_script(RENEW),
                             "connect": self._client.register_script(CONNECT)}
        return self._scripts[name]

    def acquire_slot(self) -> Release | None:
        member = f"{self._prefix}:{next(self._ids)}"
        try:
            taken = self._script("acquire")(
                keys=[SLOTS_KEY], args=[self.max_connections, member, self.lease_seconds])
        except redis.RedisError as exc:
            self._failed(exc)
            return self._fallback.acquire_slot()
        self._recovered()
        if not taken:
            return None
        self._hold(member)
        done = threading.Lock()

        def release() -> None:
            if not done.acquire(blocking=False):
                return
            with self._lock:
                self._held.discard(member)
            try:
                self._client.zrem(SLOTS_KEY, member)
            except redis.RedisError as exc:  # the lease runs out by itself
                self._failed(exc)
        return release

    def connect_allowed(self, address: str) -> float | None:
        assert self.rate is not None
        try:
            retry = self._script("connect")(keys=[RATE_PREFIX + address], args=list(self.rate))
        except redis.RedisError as exc:
            self._failed(exc)
            return self._fallback.connect_allowed(address)
        self._recovered()
        return None if retry is None else float(retry)

    # -- leases -----------------------------------------------------------------------------

    def _hold(self, member: str) -> None:
        """Remember a taken slot; start the renewer unless it is running."""
        with self._lock:
            self._held.add(member)
            if self._renewing:
                return
            self._renewing = True
        threading.Thread(target=self._renew_while_holding, name="g6app-redis-leases",
                         daemon=True).start()

    def _renew_while_holding(self) -> None:
        """Renew every third of the lease while this worker holds slots; end when it holds none."""
        wait = threading.Event()
        while True:
            wait.wait(self.lease_seconds / 3)
            with self._lock:
                if not self._held:
                    self._renewing = False
                    return
            self.renew()

    def renew(self) -> int:
        """Extend every lease this worker holds; the number renewed (0 when Redis is down)."""
        with self._lock:
            members = list(self._held)
        if not members:
            return 0
        try:
            renewed = self._script("renew")(keys=[SLOTS_KEY], args=[self.lease_seconds, *members])
        except redis.RedisError as exc:
            self._failed(exc)
            return 0
        self._recovered()
        return int(renewed)

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            logger.warning("redis limits unavailable url=%s error=%s; per-worker limits apply",
                           redact_url(self.url), type(exc).__name__)
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            logger.info("redis limits available url=%s", redact_url(self.url))
        self._failing = False
