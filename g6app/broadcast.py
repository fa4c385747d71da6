"""Direct fan-out: each new event goes straight to the sockets of caught-up streams.

A stream that holds the current state and has nothing pending attaches here and sleeps. After
each refresh the hub's poller calls ``flush``: for every attached stream it writes the shared,
already-encoded bytes as one HTTP chunk with a non-blocking send, in that one greenlet, with no
per-client wake-up, generator step or metric update. Whatever a socket cannot take at once
(a partial or refused send), an error, shutdown or the stream's own deadline detaches it: its
greenlet wakes, finishes the write with the write timeout, and goes on on the ordinary path.
Only HTTP/1.1 responses under gunicorn (chunked framing, a real socket) are attached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

from . import events
from .metrics import observe_many
from .sse import encode_comment

logger = logging.getLogger(__name__)

PING = encode_comment("ping")
YIELD_EVERY = 256  # sends between cooperative yields, so a big fan-out does not starve requests


def chunk(blob: bytes) -> bytes:
    """``blob`` framed as one HTTP/1.1 chunk (gunicorn frames what the app yields the same way)."""
    return b"%X\r\n%s\r\n" % (len(blob), blob)


class Subscriber:
    """One stream's position (filter, the state it holds, the heartbeat and error it has seen,
    its last write) and, while attached, its socket and how to wake it."""

    __slots__ = ("sock", "keys", "held", "heartbeat_seq", "error_seq", "last_write",
                 "attached", "remainder", "failed", "wake")

    def __init__(self, sock: Any, keys: tuple[str, ...], held: Any, heartbeat_seq: int,
                 error_seq: int, last_write: float):
        self.sock, self.keys, self.held = sock, keys, held
        self.heartbeat_seq, self.error_seq, self.last_write = heartbeat_seq, error_seq, last_write
        self.attached = False
        self.remainder = b""
        self.failed = False
        self.wake = threading.Event()


def owed(hub: Any, sub: Subscriber, now: float, keepalive_seconds: float,
         may_update: bool = True) -> tuple[bytes, ...]:
    """What ``sub`` must be sent now (shared, encoded blobs), advancing its position as if sent.

    An error once per incident; one update from the state it holds to the newest (when
    ``may_update``; skipped states are counted as dropped); a heartbeat once it is current; a
    ping when nothing else was written for ``keepalive_seconds``."""
    keys = sub.keys
    parts: list[bytes] = []
    if hub.error_seq != sub.error_seq:
        sub.error_seq = hub.error_seq
        parts.append(hub.error_bytes(sub.held.view_id(keys)))
    current = hub.current
    if current is not sub.held:
        if current.view_id(keys) == sub.held.view_id(keys):
            sub.held = current
        elif may_update:
            if current.seq - sub.held.seq > 1:
                hub.metrics.events_dropped.inc(current.seq - sub.held.seq - 1)
            parts.append(hub.update_bytes(sub.held, current, keys))
            sub.held, sub.heartbeat_seq = current, hub.heartbeat_seq
    if hub.heartbeat_seq != sub.heartbeat_seq and sub.held is current:
        sub.heartbeat_seq = hub.heartbeat_seq
        parts.append(hub.heartbeat_bytes(current, keys))
    if not parts and now - sub.last_write >= keepalive_seconds:
        parts.append(PING)
    return tuple(parts)


class Broadcaster:
    """The attached streams of one worker and the loop that writes to them."""

    def __init__(self, hub: Any, metrics: Any, keepalive_seconds: float):
        self.hub = hub
        self.metrics = metrics
        self.keepalive_seconds = keepalive_seconds
        self._subscribers: set[Subscriber] = set()
        self._flushed_generation = -1
        self._next_keepalive_pass = 0.0

    def __len__(self) -> int:
        return len(self._subscribers)

    def attach(self, sub: Subscriber) -> None:
        """Write for ``sub`` from now on; after shutdown began, wake it at once instead."""
        if self.hub.closing is not None:
            sub.wake.set()
            return
        sub.attached = True
        sub.wake.clear()
        self._subscribers.add(sub)

    def detach(self, sub: Subscriber) -> None:
        if sub.attached:
            sub.attached = False
            self._subscribers.discard(sub)
            sub.wake.set()

    def detach_all(self) -> None:
        for sub in list(self._subscribers):
            self.detach(sub)

    def flush(self) -> None:
        """Write what each attached stream is owed; detach those that cannot take it now."""
        if self.hub.closing is not None:
            self.detach_all()
            return
        now = time.monotonic()
        # Nothing new and no keep-alive pass due: no need to look at any stream. Pings go out
        # within a quarter of the keep-alive period after it elapses.
        if self.hub.generation == self._flushed_generation and now < self._next_keepalive_pass:
            return
        self._flushed_generation = self.hub.generation
        if now >= self._next_keepalive_pass:
            self._next_keepalive_pass = now + self.keepalive_seconds / 4
        by_position: dict[tuple, tuple[tuple[bytes, ...], bytes]] = {}
        sent: Counter[tuple[bytes, ...]] = Counter()
        for count, sub in enumerate(list(self._subscribers), 1):
            if not sub.attached:
                continue
            position = (id(sub.held), sub.keys, sub.heartbeat_seq, sub.error_seq,
                        now - sub.last_write >= self.keepalive_seconds)
            known = by_position.get(position)  # streams in the same position are owed the same
            if known is None:
                parts = owed(self.hub, sub, now, self.keepalive_seconds)
                known = by_position[position] = (parts, chunk(b"".join(parts)) if parts else b"")
            else:
                self._advance(sub)
            parts, framed = known
            if parts:
                self._send(sub, framed, now)
                sent[parts] += 1
            if count % YIELD_EVERY == 0:
                time.sleep(0)  # a cooperative yield under gevent
        self._count(sent)

    def _advance(self, sub: Subscriber) -> None:
        """Bring ``sub`` where ``owed`` brought an earlier stream in the same position."""
        hub = self.hub
        sub.held, sub.error_seq, sub.heartbeat_seq = hub.current, hub.error_seq, hub.heartbeat_seq

    def _send(self, sub: Subscriber, framed: bytes, now: float) -> None:
        try:
            written = sub.sock.send(framed, 0, 0.0)
        except BlockingIOError:
            written = 0
        except OSError:
            sub.failed = True
            self.detach(sub)
            return
        sub.last_write = now
        if written < len(framed):
            sub.remainder = framed[written:]
            self.detach(sub)

    def _count(self, sent: Counter[tuple[bytes, ...]]) -> None:
        """Metrics once per distinct write, however many streams it went to."""
        if not sent:
            return
        latency = time.monotonic() - self.hub.published_at
        for parts, times in sent.items():
            sizes = [size for part in parts if part is not PING  # a comment, not an event
                     for size in events.split_sizes(part)]
            if not sizes:
                continue
            self.metrics.events_sent.inc(len(sizes) * times)
            for size in sizes:
                observe_many(self.metrics.event_size, size, times)
            observe_many(self.metrics.event_queue_latency, latency, times)
