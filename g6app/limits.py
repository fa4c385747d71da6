"""Server-wide admission bookkeeping: the connection cap and the per-address connect rate.

Every gunicorn worker of one server must see the same numbers, and a worker killed with
SIGKILL must not keep its slots. ``FileLimits`` gets both from the kernel: a slot is a POSIX
byte-range lock on a shared file (released by the kernel when its process dies), and rates live
in a fixed-size table in a shared file, so memory stays bounded however many addresses come.
``MemoryLimits`` serves a single process (Flask's test client, scripts).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import random
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from .ratelimit import gcra

Release = Callable[[], None]
RATE_TABLE_ENTRIES = 16384
RATE_PROBES = 8
_ENTRY = struct.Struct("<Qd")  # address digest, theoretical arrival time


class Limits(Protocol):
    def acquire_slot(self) -> Release | None:
        """A release function (idempotent), or None when the server-wide cap is reached."""

    def connect_allowed(self, address: str) -> float | None:
        """None when a new stream from ``address`` may start now (and count it), else the
        seconds until one may."""


def _once(release: Callable[[], None]) -> Release:
    done = threading.Lock()

    def release_once() -> None:
        if done.acquire(blocking=False):
            release()
    return release_once


def _digest(address: str) -> int:
    return int.from_bytes(hashlib.blake2b(address.encode(), digest_size=8).digest(), "little") or 1


class MemoryLimits:
    """One process's limits (no other worker to agree with)."""

    def __init__(self, max_connections: int, rate: tuple[int, float] | None,
                 clock: Callable[[], float] = time.time, max_addresses: int = RATE_TABLE_ENTRIES):
        self.max_connections = max_connections
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._open = 0
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._max_addresses = max_addresses

    def acquire_slot(self) -> Release | None:
        with self._lock:
            if self._open >= self.max_connections:
                return None
            self._open += 1

        def release() -> None:
            with self._lock:
                self._open -= 1
        return _once(release)

    def connect_allowed(self, address: str) -> float | None:
        assert self.rate is not None
        with self._lock:
            allowed, tat, retry = gcra(self._tats.get(address, 0.0), self._clock(), *self.rate)
            if allowed:
                self._tats[address] = tat
                self._tats.move_to_end(address)
                while len(self._tats) > self._max_addresses:
                    self._tats.popitem(last=False)
            return None if allowed else retry


class FileLimits:
    """Limits shared by every worker of one server through files in ``state_dir``.

    Files are opened on first use, never in the factory; each process keeps one descriptor
    per file open for its lifetime (closing any descriptor of a file drops a process's locks)."""

    def __init__(self, state_dir: str, max_connections: int, rate: tuple[int, float] | None,
                 clock: Callable[[], float] = time.time):
        self.state_dir = state_dir
        self.max_connections = max_connections
        self.rate = rate
        self._clock = clock
        self._slots_fd: int | None = None
        self._held: set[int] = set()
        self._rates: tuple[int, mmap.mmap] | None = None
        self._pid = os.getpid()

    def _slots(self) -> int:
        if self._slots_fd is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._held = set()
            path = os.path.join(self.state_dir, "connection-slots.lock")
            self._slots_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._slots_fd

    def acquire_slot(self) -> Release | None:
        fd = self._slots()
        cap = self.max_connections
        start = random.randrange(cap)
        for offset in range(cap):
            index = (start + offset) % cap
            if index in self._held:
                continue
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, index)
            except OSError:
                continue
            self._held.add(index)
            return _once(lambda index=index: self._release(fd, index))
        return None

    def _release(self, fd: int, index: int) -> None:
        if self._pid == os.getpid() and index in self._held:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, index)
            self._held.discard(index)

    def _rate_table(self) -> tuple[int, mmap.mmap]:
        if self._rates is None:
            path = os.path.join(self.state_dir, "connect-rates.bin")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            size = RATE_TABLE_ENTRIES * _ENTRY.size
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._rates = (fd, mmap.mmap(fd, size))
        return self._rates

    def connect_allowed(self, address: str) -> float | None:
        assert self.rate is not None
        fd, table = self._rate_table()
        key = _digest(address)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now = self._clock()
            slot = self._find(table, key)
            stored_key, tat = _ENTRY.unpack_from(table, slot * _ENTRY.size)
            allowed, tat, retry = gcra(tat if stored_key == key else 0.0, now, *self.rate)
            if allowed:
                _ENTRY.pack_into(table, slot * _ENTRY.size, key, tat)
            return None if allowed else retry
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @staticmethod
    def _find(table: mmap.mmap, key: int) -> int:
        """The entry of ``key``, else the stalest of its probes (free entries hold tat 0, and an
        address whose tat has passed has no allowance left to lose by eviction)."""
        home = key % RATE_TABLE_ENTRIES
        stalest, stalest_tat = home, float("inf")
        for probe in range(RATE_PROBES):
            slot = (home + probe) % RATE_TABLE_ENTRIES
            stored, tat = _ENTRY.unpack_from(table, slot * _ENTRY.size)
            if stored == key:
                return slot
            if tat < stalest_tat:
                stalest, stalest_tat = slot, tat
        return stalest


def make_limits(settings) -> Limits:
    """The backend for this deployment: Redis across instances, shared files under gunicorn,
    memory otherwise."""
    if settings.redis_url:
        from .redis_limits import RedisLimits  # imports this module: import on use

        return RedisLimits(settings.redis_url, settings.sse_max_connections,
                           settings.sse_ip_connect_rate, settings.redis_lease_seconds)
    if settings.state_dir:
        return FileLimits(settings.state_dir, settings.sse_max_connections,
                          settings.sse_ip_connect_rate)
    return MemoryLimits(settings.sse_max_connections, settings.sse_ip_connect_rate)
