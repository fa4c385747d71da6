"""The per-worker hub: polls the source, publishes states, and shares encoded events.

One hub per worker process. It turns each new status into a State (panels, hashes, id), keeps
a bounded history for resumes, wakes every waiting stream at once, and caches each encoded
event per (from, to, filter) so the bytes are built once however many clients need them.
It never touches sockets or HTTP; the stream module does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from . import events
from .broadcast import Broadcaster
from .panels import PANEL_KEYS, build_panels, status_cycle
from .state import State, make_state

logger = logging.getLogger(__name__)

CACHE_ENTRIES = 512


class Hub:
    """Fan-out point between one status source and every stream of this worker."""

    def __init__(self, source: Any, settings: Any, metrics: Any,
                 build: Callable[[Mapping | None], dict] = build_panels,
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.metrics = metrics
        self._build = build
        self._refresh_seconds = settings.refresh_seconds
        self._heartbeat_cycles = settings.sse_heartbeat_cycles
        self._history_size = settings.sse_history_size
        self.max_event_bytes = settings.sse_max_event_bytes
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._history: OrderedDict[str, State] = OrderedDict()
        self._unchanged_ticks = 0
        self._clock = clock
        self._last_cycle_at = clock()
        self._running = False
        self.generation = 0
        self.heartbeat_seq = 0
        self.error_seq = 0
        self.error_message: str | None = None
        self.closing: str | None = None
        self._cache_hits = 0
        self._cache_lookups = 0
        self.panel_update_counts = dict.fromkeys(PANEL_KEYS, 0)
        self.fanout = Broadcaster(self, metrics, settings.sse_keepalive_seconds)
        self.current = self._new_state(None, seq=0)
        self._remember(self.current)
        self.metrics.source_age.set(-1)  # no status read yet, as documented; not "fresh"
        self.published_at = time.monotonic()

    # -- publishing -----------------------------------------------------------------------

    def _new_state(self, document: Mapping | None, seq: int) -> State:
        state, clipped = make_state(
            seq,
            status_cycle(document),
            self._build(document),
            self.max_event_bytes - events.ENVELOPE_BYTES,
        )
        for key in clipped:
            logger.warning("panel clipped to the event size limit panel=%s", key)
            self.metrics.security_events_dropped.inc()
        return state

    def _remember(self, state: State) -> None:
        self._history[state.id] = state
        self._history.move_to_end(state.id)
        while len(self._history) > self._history_size:
            self._history.popitem(last=False)

    def _wake(self) -> None:
        self.generation += 1
        previous, self._wakeup = self._wakeup, threading.Event()
        previous.set()

    def refresh(self) -> bool:
        """Poll the source once; publish what changed. True when a new state was published."""
        with self._lock:
            reading = self.source.poll()
            published = False
            if reading is not None and reading.error is not None:
                self.error_seq += 1
                self.error_message = reading.error
                self.metrics.source_errors.inc()
                self._wake()
            elif reading is not None and reading.document is not None:
                self.metrics.source_reads.inc()
                published = self._publish(self._new_state(reading.document, self.current.seq + 1))
            self._tick(published)
            return published

    def _publish(self, state: State) -> bool:
        old = self.current
        if state.id == old.id:
            return False
        for key in PANEL_KEYS:
            if old.hashes.get(key) != state.hashes.get(key):
                self.metrics.panel_updates.labels(panel=key).inc()
                self.panel_update_counts[key] += 1
        self.current = state
        self.published_at = time.monotonic()
        self._remember(state)
        if state.cycle is not None:
            self.metrics.cycle.set(state.cycle)
        self._unchanged_ticks = 0
        self._wake()
        return True

    def _tick(self, published: bool) -> None:
        age = self.source.age_seconds()
        self.metrics.source_age.set(age if age is not None else -1)
        self.metrics.source_up.set(1 if self.source.last_error is None and age is not None else 0)
        if published:
            self._last_cycle_at = self._clock()
            return
        # A cycle is one refresh interval: extra refreshes (one-shot requests, or every waiting
        # stream when no poller runs) must not make heartbeats come sooner.
        now = self._clock()
        if now - self._last_cycle_at < 0.9 * self._refresh_seconds:
            return
        self._last_cycle_at = now
        self._unchanged_ticks += 1
        if self._unchanged_ticks >= self._heartbeat_cycles:
            self._unchanged_ticks = 0
            self.heartbeat_seq += 1
            self._wake()

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, generation: int, timeout_seconds: float) -> None:
        """Block until the generation moves past ``generation`` or the timeout passes.

        Without a running poller (Flask's test client, scripts) the waiter drives the polling
        itself, so a stream still sees new statuses."""
        wakeup = self._wakeup
        if self.generation != generation:
            return
        if self._running:
            wakeup.wait(timeout_seconds)
            return
        deadline = time.monotonic() + timeout_seconds
        while self.generation == generation and self.closing is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            wakeup.wait(min(self._refresh_seconds, remaining))
            self.refresh_if_idle()

    def refresh_if_idle(self) -> None:
        """Poll now unless the background poller does it (one-shot requests call this)."""
        if not self._running:
            self.refresh()

    def run(self, stop: threading.Event) -> None:
        """The poller: refresh every interval until ``stop`` is set. Never raises."""
        self._running = True
        try:
            self._cycle()
            logger.info("hub started refresh_seconds=%s id=%s", self._refresh_seconds,
                        self.current.id)
            while not stop.wait(self._refresh_seconds):
                self._cycle()
        finally:
            self._running = False

    def _cycle(self) -> None:
        try:
            self.refresh()
            self.fanout.flush()
        except Exception:  # a bug in one cycle must not stop the poller
            logger.exception("hub refresh failed")

    @property
    def running(self) -> bool:
        """True while the background poller runs (and so the broadcaster writes)."""
        return self._running

    def close(self, reason: str) -> None:
        """Ask every stream to say bye and end."""
        self.closing = reason
        self.fanout.detach_all()
        self._wake()

    # -- encoded events, built once -----------------------------------------------------------

    def find(self, held_id: str, keys: tuple[str, ...]) -> State | None:
        """The remembered state whose view over ``keys`` has id ``held_id``, if any."""
        for state in reversed(self._history.values()):
            if state.view_id(keys) == held_id:
                return state
        return None

    def _cached(self, key: tuple, build: Callable[[], bytes]) -> bytes:
        self._cache_lookups += 1
        blob = self._cache.get(key)
        if blob is not None:
            self._cache_hits += 1
        else:
            blob = build()
            self._cache[key] = blob
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return blob

    def snapshot_bytes(self, state: State, keys: tuple[str, ...]) -> bytes:
        return self._cached(("snap", state.id, keys),
                            lambda: events.snapshot(state, keys, self.max_event_bytes))

    def update_bytes(self, old: State, new: State, keys: tuple[str, ...]) -> bytes:
        return self._cached(("upd", old.id, new.id, keys),
                            lambda: events.update(old, new, keys, self.max_event_bytes))

    def error_bytes(self, held_id: str) -> bytes:
        """The current incident's error event for a client holding ``held_id``."""
        message = self.error_message or "status source error"
        return self._cached(("err", self.error_seq, held_id),
                            lambda: events.error(message, held_id))

    def heartbeat_bytes(self, state: State, keys: tuple[str, ...]) -> bytes:
        return self._cached(("hb", self.heartbeat_seq, state.id, keys),
                            lambda: events.heartbeat(state, keys))

    def describe(self) -> dict[str, Any]:
        """The hub's part of /summary/health."""
        lookups = self._cache_lookups
        return {
            "cycle": self.current.cycle,
            "id": self.current.id,
            "states_remembered": len(self._history),
            "panel_updates": dict(self.panel_update_counts),
            "diff_hit_ratio": round(self._cache_hits / lookups, 4) if lookups else None,
        }
