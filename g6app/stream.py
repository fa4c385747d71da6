"""The SSE response: turns the hub into bytes for one client, until it leaves or we close.

One generator per client. It holds only the state the client last received (a reference into
the hub's history), so a slow or rate-limited client is coalesced: when it can take more, it
gets one update from what it holds to the newest state. Admission happens before this runs.
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
from .broadcast import Subscriber
from .errors import ApiError
from .panels import PANEL_KEYS
from .ratelimit import TokenBucket
from .sse import CONTENT_TYPE, encode_comment, encode_retry
from .state import State

logger = logging.getLogger(__name__)

SHUTDOWN_RETRY_SPREAD = 5  # a shutdown's bye asks for a reconnect after 1-5x the usual delay
PING = encode_comment("ping")


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
        # One event per write is the common case: its size is the blob's, no split needed.
        if blob == PING:
            sizes: tuple[int, ...] | list[int] = ()  # a comment, not an event
        elif blob.count(b"\n\n") == 1:
            sizes = (len(blob),)
        else:
            sizes = events.split_sizes(blob)
        if sizes:
            self.metrics.events_sent.inc(len(sizes))
            for size in sizes:
                self.metrics.event_size.observe(size)
        if published_at is not None:
            self.metrics.event_queue_latency.observe(time.monotonic() - published_at)
        self._writing_since = time.monotonic()
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
        if hub.source.last_error is not None:
            parts.append(events.error(hub.source.last_error, current.view_id(keys)))
        return b"".join(parts), current

    def _deadline(self, started: float) -> float | None:
        lifetime = self.settings.sse_max_stream_seconds
        return started + lifetime * random.uniform(0.8, 1.0) if lifetime > 0 else None

    def _events(self, started: float) -> Iterator[bytes]:
        hub, keys, settings = self.hub, self.keys, self.settings
        blob, held = self._first()
        yield self._write(blob)
        self._writing_since = None
        last_write = time.monotonic()
        deadline = self._deadline(started)
        heartbeat_seq, error_seq = hub.heartbeat_seq, hub.error_seq
        while True:
            generation = hub.generation
            now = time.monotonic()
            if hub.closing is not None or (deadline is not None and now >= deadline):
                yield self._bye(held, "shutdown" if hub.closing is not None else "max_lifetime")
                return
            pending: list[bytes] = []
            wait_for_token = None
            if hub.error_seq != error_seq:
                error_seq = hub.error_seq
                pending.append(events.error(hub.error_message or "status source error",
                                            held.view_id(keys)))
            current = hub.current
            if current is not held and current.view_id(keys) != held.view_id(keys):
                if self.bucket is None or self.bucket.try_take():
                    if current.seq - held.seq > 1:
                        self.metrics.events_dropped.inc(current.seq - held.seq - 1)
                    pending.append(hub.update_bytes(held, current, keys))
                    held, heartbeat_seq = current, hub.heartbeat_seq
                else:
                    wait_for_token = self.bucket.seconds_until_token()
            elif current is not held:
                held = current
            if hub.heartbeat_seq != heartbeat_seq and held is current:
                heartbeat_seq = hub.heartbeat_seq
                pending.append(hub.heartbeat_bytes(current, keys))
            if pending:
                yield self._write(b"".join(pending), hub.published_at)
                self._writing_since = None
                last_write = time.monotonic()
                continue
            if self.direct and hub.running and deadline_left(deadline, now) != 0:
                after = self._sleep_attached(held, heartbeat_seq, error_seq, last_write, deadline)
                if after is None:
                    return
                held, heartbeat_seq, error_seq, last_write = after
                continue
            timeout = settings.sse_keepalive_seconds - (now - last_write)
            if timeout <= 0:
                yield self._write(PING)
                self._writing_since = None
                last_write = time.monotonic()
                continue
            if deadline is not None:
                timeout = min(timeout, deadline - now)
            if wait_for_token is not None:
                timeout = min(timeout, wait_for_token)
            hub.wait(generation, max(timeout, 0.0))

    def _sleep_attached(self, held: State, heartbeat_seq: int, error_seq: int,
                        last_write: float, deadline: float | None) -> tuple | None:
        """Let the broadcaster write for this stream until it detaches it; None ends the stream."""
        fanout = self.hub.fanout
        sub = Subscriber(self.sock, self.keys, held, heartbeat_seq, error_seq, last_write)
        fanout.attach(sub)
        try:
            sub.wake.wait(deadline_left(deadline, time.monotonic()))
        finally:
            fanout.detach(sub)
        if not sub.failed and sub.remainder:
            self._writing_since = time.monotonic()
            try:
                self.sock.sendall(sub.remainder)
                self._writing_since = None
            except TimeoutError:
                pass  # counted as a slow client on close
            except OSError:
                self._writing_since = None
                sub.failed = True
        if sub.failed or self._writing_since is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # gunicorn's last write fails at once
            return None
        return sub.held, sub.heartbeat_seq, sub.error_seq, sub.last_write

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
