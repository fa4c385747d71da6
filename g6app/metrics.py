"""Every metric g6app exports, created on an injected registry, and the ``/metrics`` WSGI app.

All families are created (and every label value pre-declared) when Metrics is built, so each
one exists at zero from the first scrape, in single-process and multiprocess mode alike.
Nothing is ever added to the exposition at scrape time. Gunicorn's hooks live in lifecycle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from .multiproc import LockedCollector
from .panels import PANEL_KEYS

EVENT_SIZE_BUCKETS_BYTES = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
LATENCY_BUCKETS_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DURATION_BUCKETS_SECONDS = (1, 5, 15, 60, 300, 900, 3600, 14400, 86400)
RESUME_RESULTS = ("hit", "miss")


class Metrics:
    """The service's metric objects; pass ``registry`` (tests pass a fresh CollectorRegistry)."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        r = {"registry": registry}
        # Kept from the original service: same names, types and meaning.
        self.active_connections = Gauge(
            "g6_sse_http_active_connections", "Open SSE streams.",
            multiprocess_mode="livesum", **r)
        self.connections = Counter(
            "g6_sse_http_connections", "SSE streams accepted.", **r)
        self.disconnects = Counter(
            "g6_sse_http_disconnects", "SSE streams ended, for any reason.", **r)
        self.rejected = Counter(
            "g6_sse_http_rejected_connections", "SSE connection attempts rejected, any reason.", **r)
        self.events_sent = Counter(
            "g6_sse_http_events_sent", "SSE events written to clients.", **r)
        self.events_dropped = Counter(
            "g6_sse_http_events_dropped",
            "Events coalesced away for slow or rate-limited clients.", **r)
        self.security_events_dropped = Counter(
            "g6_sse_http_security_events_dropped",
            "Content cut for safety limits (panels clipped to the event size cap).", **r)
        self.auth_fail = Counter(
            "g6_sse_http_auth_fail", "SSE connections rejected for a missing or wrong token.", **r)
        self.forbidden_ip = Counter(
            "g6_sse_http_forbidden_ip", "SSE connections rejected by the IP allow-list.", **r)
        self.rate_limited = Counter(
            "g6_sse_http_rate_limited", "SSE connections rejected by the per-IP connect rate.", **r)
        self.forbidden_ua = Counter(
            "g6_sse_http_forbidden_ua", "SSE connections rejected by the User-Agent allow-list.", **r)
        self.event_size = Histogram(
            "g6_sse_http_event_size_bytes", "Size of SSE events written.",
            buckets=EVENT_SIZE_BUCKETS_BYTES, **r)
        self.event_queue_latency = Histogram(
            "g6_sse_http_event_queue_latency_seconds",
            "Time from a state being published to its event being handed to the socket.",
            buckets=LATENCY_BUCKETS_SECONDS, **r)
        self.connection_duration = Histogram(
            "g6_sse_http_connection_duration_seconds", "Lifetime of SSE streams.",
            buckets=DURATION_BUCKETS_SECONDS, **r)
        # Added for operators.
        self.capacity_rejected = Counter(
            "g6_sse_http_too_many_connections",
            "SSE connections rejected by the server-wide connection cap.", **r)
        self.slow_client_disconnects = Counter(
            "g6_sse_http_slow_client_disconnects",
            "Streams dropped because the client accepted nothing within the write timeout.", **r)
        self.resumes = Counter(
            "g6_sse_http_resumes", "Reconnects with Last-Event-ID, by whether a diff sufficed.",
            ["result"], **r)
        self.panel_updates = Counter(
            "g6_summary_panel_updates", "Visible changes published, by panel.", ["panel"], **r)
        self.cycle = Gauge(
            "g6_summary_cycle", "Collector cycle of the current status.",
            multiprocess_mode="livemax", **r)
        self.source_age = Gauge(
            "g6_summary_status_age_seconds",
            "Seconds since the current status was written (-1 before the first).",
            multiprocess_mode="livemax", **r)
        self.source_up = Gauge(
            "g6_summary_source_up", "1 when the last read of the status source succeeded.",
            multiprocess_mode="livemin", **r)
        self.source_reads = Counter(
            "g6_summary_source_reads", "New status documents read successfully.", **r)
        self.source_errors = Counter(
            "g6_summary_source_errors",
            "Status source incidents (missing, unreadable, invalid, oversized).", **r)
        for panel in PANEL_KEYS:
            self.panel_updates.labels(panel=panel)
        for result in RESUME_RESULTS:
            self.resumes.labels(result=result)


def observe_many(histogram: Histogram, value: float, count: int) -> None:
    """``count`` observations of ``value`` in one step: the same buckets, sum and count as
    ``count`` calls of ``observe`` (prometheus_client has no bulk form; pinned version)."""
    if count == 1:
        histogram.observe(value)
        return
    histogram._sum.inc(value * count)
    for bound, bucket in zip(histogram._upper_bounds, histogram._buckets, strict=True):
        if value <= bound:
            bucket.inc(count)
            break


def multiprocess_dir(environ: Mapping[str, str]) -> str | None:
    """The multiprocess directory, when prometheus_client's multiprocess mode is on."""
    return environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition_app(metrics: Metrics, environ: Mapping[str, str] = os.environ):
    """The WSGI app for ``/metrics``: this process's registry, or every worker's files."""
    path = multiprocess_dir(environ)
    if path is None:
        return make_wsgi_app(metrics.registry)
    registry = CollectorRegistry()
    LockedCollector(path, registry=registry)
    return make_wsgi_app(registry)
