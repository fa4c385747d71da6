"""The SSE response: turns the hub into bytes for one client, until it leaves or we close.

One generator per client. It holds only its position (the state the client last received, a
reference into the hub's history), so a slow or rate-limited client is coalesced: when it can
take more, it gets one update from what it holds to the newest state. Once it owes nothing, a
stream on a real socket sleeps attached to the hub's broadcaster, which writes for it until it
must act itself (see broadcast). Admission happens before this runs.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from . import admission, events
from .broadcast import PING, Subscriber, owed
from .errors import ApiError
from .panels import PANEL_KEYS
from .ratelimit import TokenBucket
from .sse import CONTENT_TYPE, encode_retry
from .state import State

logger = logging.getLogger(__name__)

SHUTDOWN_RETRY_SPREAD = 5  # a shutdown's bye asks for a reconnect after 1-5x the usual delay


def deadline_left(deadline: float | None, now: float) -> float | None:
    """Seconds until ``deadline`` (never negative), or None when there is none."""
    return None if deadline is None else max(0.0, deadline - now)


class EventStream:
    """Iterable WSGI body of one ``/summary/events`` response."""

    def __init__(self, service: Any, keys: tuple[str, ...], resume: State | None,
                 resume_id: str | None, sock: socket.socket | None = None,
                 request_id: str = "-", direct: bool = False):
        self.service = service
        self.hub = service.hub
        self.metrics = service.metrics
        self.settings = service.settings
        self.keys = keys
        self.resume = resume
        self.resume_id = resume_id
        self.sock = sock
        self.request_id = request_id
        rate = self.settings.sse_events_per_sec
        self.bucket = TokenBucket(rate, 2 * rate) if rate > 0 else None
        # Direct writes by the hub's broadcaster: a chunked response on a real socket, no pacing.
        self.direct = direct and sock is not None and self.bucket is None
        self._writing_since: float | None = None

    def __iter__(self) -> Iterator[bytes]:
        started = time.monotonic()
        self.metrics.active_connections.inc()
        self.metrics.connections.inc()
        self.service.active_streams += 1
        if self.sock is not None:
            self.sock.settimeout(self.settings.sse_write_timeout_seconds)
        try:
            yield from self._events(started)
        finally:
            self._closed(started)

    def _closed(self, started: float) -> None:
        now = time.monotonic()
        timeout = self.settings.sse_write_timeout_seconds
        if self._writing_since is not None and now - self._writing_since >= 0.9 * timeout:
            self.metrics.slow_client_disconnects.inc()
            logger.warning("slow client dropped write_timeout_seconds=%s", timeout)
        self.service.active_streams -= 1
        self.metrics.active_connections.dec()
        self.metrics.disconnects.inc()
        self.metrics.connection_duration.observe(now - started)
        logger.info("stream closed request_id=%s duration_seconds=%.1f", self.request_id,
                    now - started)

    def _write(self, blob: bytes, published_at: float | None = None) -> bytes:
        """Count what goes out (a ping is a comment, not an event) and note when."""
        self._writing_since = time.monotonic()
        if blob == PING:
            return blob
        # One event per write is the common case: its size is the blob's, no split needed.
        sizes = (len(blob),) if blob.count(b"\n\n") == 1 else events.split_sizes(blob)
        self.metrics.events_sent.inc(len(sizes))
        for size in sizes:
            self.metrics.event_size.observe(size)
        if published_at is not None:
            self.metrics.event_queue_latency.observe(self._writing_since - published_at)
        return blob

    def _first(self) -> tuple[bytes, State]:
        hub, keys = self.hub, self.keys
        current = hub.current
        held_id = self.resume_id if self.resume is not None else None
        parts = [encode_retry(self.settings.sse_retry_ms),
                 events.hello(current, keys, self.service.version, held_id)]
        if self.resume is not None:
            parts.append(hub.update_bytes(self.resume, current, keys))
        else:
            parts.append(hub.snapshot_bytes(current, keys))
        if hub.source.last_error is not None:  # connecting during an incident
            parts.append(hub.error_bytes(current.view_id(keys)))
        return b"".join(parts), current

    def _deadline(self, started: float) -> float | None:
        lifetime = self.settings.sse_max_stream_seconds
        return started + lifetime * random.uniform(0.8, 1.0) if lifetime > 0 else None

    def _events(self, started: float) -> Iterator[bytes]:
        hub, settings = self.hub, self.settings
        blob, held = self._first()
        yield self._write(blob)
        self._writing_since = None
        pos = Subscriber(self.sock, self.keys, held, hub.heartbeat_seq, hub.error_seq,
                         time.monotonic())
        deadline = self._deadline(started)
        while True:
            generation = hub.generation
            now = time.monotonic()
            if hub.closing is not None or (deadline is not None and now >= deadline):
                yield self._bye(pos.held, "shutdown" if hub.closing is not None else "max_lifetime")
                return
            may_update, wait_for_token = self._pace(pos.held)
            parts = owed(hub, pos, now, settings.sse_keepalive_seconds, may_update)
            if parts:
                yield self._write(b"".join(parts), hub.published_at)
                self._writing_since = None
                pos.last_write = time.monotonic()
                continue
            if self.direct and hub.running and deadline_left(deadline, now) != 0:
                if not self._sleep_attached(pos, deadline):
                    return
                continue
            waits = (settings.sse_keepalive_seconds - (now - pos.last_write),
                     deadline_left(deadline, now), wait_for_token)
            hub.wait(generation, max(0.0, min(w for w in waits if w is not None)))

    def _pace(self, held: State) -> tuple[bool, float | None]:
        """May an update be sent now (the token bucket), and if not, how long until it may."""
        current = self.hub.current
        if self.bucket is None or current is held or \
                current.view_id(self.keys) == held.view_id(self.keys):
            return True, None
        if self.bucket.try_take():
            return True, None
        return False, self.bucket.seconds_until_token()

    def _sleep_attached(self, pos: Subscriber, deadline: float | None) -> bool:
        """Let the broadcaster write for this stream until it detaches it; False ends the stream."""
        fanout = self.hub.fanout
        fanout.attach(pos)
        try:
            pos.wake.wait(deadline_left(deadline, time.monotonic()))
        finally:
            fanout.detach(pos)
        if not pos.failed and pos.remainder:
            remainder, pos.remainder = pos.remainder, b""
            self._writing_since = time.monotonic()
            try:
                self.sock.sendall(remainder)
                self._writing_since = None
            except TimeoutError:
                pass  # counted as a slow client on close
            except OSError:
                self._writing_since = None
                pos.failed = True
        if pos.failed or self._writing_since is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # gunicorn's last write fails at once
            return False
        return True

    def _bye(self, held: State, reason: str) -> bytes:
        retry_ms = None
        if reason == "shutdown":
            base = self.settings.sse_retry_ms
            retry_ms = random.randint(base, base * SHUTDOWN_RETRY_SPREAD)
        return self._write(events.bye(reason, held.view_id(self.keys), retry_ms))


# -- the view -------------------------------------------------------------------------------

bp = Blueprint("stream", __name__)

PREFLIGHT_HEADERS = "Authorization, X-API-Token, Last-Event-ID, X-Request-ID, Cache-Control"
STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


def parse_panels(raw: str | None) -> tuple[str, ...]:
    """``?panels=a,b`` -> keys in panel order; every key when absent; ApiError on unknown."""
    if raw is None or not raw.strip():
        return PANEL_KEYS
    wanted = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [key for key in wanted if key not in PANEL_KEYS]
    if unknown:
        raise ApiError(400, f"invalid panels: unknown panel {unknown[0]!r}")
    return tuple(key for key in PANEL_KEYS if key in wanted)


@bp.route("/summary/events", methods=["GET", "OPTIONS"])
def summary_events():
    """The live stream: hello, then the full state or a resume diff, then changes."""
    service = current_app.extensions["g6app"]
    if not service.settings.sse_http:
        raise ApiError(404, "event stream disabled")
    if request.method == "OPTIONS":
        return preflight(service.settings)
    if service.hub.closing is not None:  # this worker is going away: come back elsewhere
        raise ApiError(503, "shutting down", {"Retry-After": "1"})
    request_id = g.request_id
    address = admission.check_identity(service, request, request_id)
    keys = parse_panels(request.args.get("panels"))
    held_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    release = admission.take_capacity(service, address, request_id)
    service.hub.refresh_if_idle()
    resume = service.hub.find(held_id, keys) if held_id else None
    if held_id:
        service.metrics.resumes.labels(result="hit" if resume else "miss").inc()
    logger.info("stream opened client=%s request_id=%s panels=%s resume=%s", address, request_id,
                ",".join(keys) if keys != PANEL_KEYS else "all",
                "hit" if resume else ("miss" if held_id else "none"))
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and service.settings.sse_send_buffer_bytes:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, service.settings.sse_send_buffer_bytes)
    chunked = request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and request.method == "GET"
    stream = EventStream(service, keys, resume, held_id, sock=sock, request_id=request_id,
                         direct=chunked)
    response = Response(iter(stream), headers=STREAM_HEADERS, content_type=CONTENT_TYPE)
    if release is not None:
        response.call_on_close(release)
    return response


def preflight(settings) -> Response:
    """CORS preflight: which origin, methods and request headers a browser may use."""
    response = Response(status=204)
    if settings.sse_allow_origin:
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response
