"""Connection slots and connect rates: GCRA arithmetic, memory and shared-file backends."""

from __future__ import annotations

import os
import signal

from g6app.limits import RATE_TABLE_ENTRIES, FileLimits, MemoryLimits
from g6app.ratelimit import gcra


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ratelimit_gcra_allows_n_per_window_and_says_when():
    """Two per ten seconds: third refused with the wait until the oldest leaves the window."""
    tat = 0.0
    allowed, tat, _ = gcra(tat, 100.0, 2, 10.0)
    assert allowed
    allowed, tat, _ = gcra(tat, 100.0, 2, 10.0)
    assert allowed
    allowed, same, retry = gcra(tat, 100.0, 2, 10.0)
    assert not allowed and same == tat and retry == 5.0
    assert gcra(tat, 105.0, 2, 10.0)[0]


def test_limits_memory_cap_and_idempotent_release():
    """The cap holds; releasing twice frees one slot only."""
    limits = MemoryLimits(2, None)
    first, second = limits.acquire_slot(), limits.acquire_slot()
    assert first and second and limits.acquire_slot() is None
    first()
    first()
    third = limits.acquire_slot()
    assert third is not None and limits.acquire_slot() is None


def test_limits_memory_rate_is_bounded_in_addresses():
    """Many distinct addresses never grow the table past its bound."""
    clock = Clock()
    limits = MemoryLimits(0, (1, 60.0), clock=clock, max_addresses=100)
    for i in range(1000):
        assert limits.connect_allowed(f"10.0.{i // 256}.{i % 256}") is None
    assert len(limits._tats) == 100
    assert limits.connect_allowed("10.0.3.231") is not None  # the newest is still limited


def test_limits_file_slots_shared_between_processes_and_freed_on_kill(tmp_path):
    """Slots taken by a child process count against the parent, and come back when it is killed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: take two slots, report, wait to be killed
        os.close(read_fd)
        child = FileLimits(str(tmp_path), 3, None)
        held = [child.acquire_slot(), child.acquire_slot()]
        os.write(write_fd, b"ok" if all(held) else b"no")
        signal.pause()
        os._exit(0)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 2) == b"ok"
        parent = FileLimits(str(tmp_path), 3, None)
        mine = parent.acquire_slot()
        assert mine is not None
        assert parent.acquire_slot() is None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
    assert parent.acquire_slot() is not None and parent.acquire_slot() is not None
    assert parent.acquire_slot() is None


def test_limits_file_rate_shared_and_fixed_size(tmp_path):
    """Two FileLimits on one directory share an address's allowance; the table never grows."""
    clock = Clock()
    a = FileLimits(str(tmp_path), 0, (2, 60.0), clock=clock)
    b = FileLimits(str(tmp_path), 0, (2, 60.0), clock=clock)
    assert a.connect_allowed("192.0.2.1") is None
    assert b.connect_allowed("192.0.2.1") is None
    retry = a.connect_allowed("192.0.2.1")
    assert retry is not None and 0 < retry <= 30
    assert b.connect_allowed("192.0.2.2") is None
    for i in range(5000):
        a.connect_allowed(f"198.51.{i // 256}.{i % 256}")
    size = (tmp_path / "connect-rates.bin").stat().st_size
    assert size == RATE_TABLE_ENTRIES * 16
    clock.now += 31
    assert a.connect_allowed("192.0.2.1") is None
