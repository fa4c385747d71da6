"""One-shot JSON endpoints: /summary/resync, /summary/health, /healthz, /readyz.

Thin views over the hub and the source; they compute nothing the stream does not share
(the resync body carries the very hashes the stream sends).
"""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify

from .events import SCHEMA_VERSION

bp = Blueprint("api", __name__)


def _service():
    return current_app.extensions["g6app"]


@bp.get("/summary/resync")
def resync():
    """The full current state, identical in hashes and content to the stream's."""
    hub = _service().hub
    hub.refresh_if_idle()
    state = hub.current
    panels = {key: {"hash": state.hashes[key], "title": panel["title"], "lines": panel["lines"]}
              for key, panel in state.panels.items()}
    return jsonify(schema_version=SCHEMA_VERSION, cycle=state.cycle, id=state.id, panels=panels)


@bp.get("/summary/health")
def health():
    """What an operator asks first: which cycle, how old, any error, how many streams."""
    service = _service()
    service.hub.refresh_if_idle()
    return jsonify(
        schema_version=SCHEMA_VERSION,
        version=service.version,
        **service.hub.describe(),
        source=service.source.describe(),
        active_streams=service.active_streams,
        worker_pid=os.getpid(),  # which worker answered: each has its own hub and streams
    )


@bp.get("/healthz")
def healthz():
    """Liveness: answering at all is the point."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: a status was read and is younger than G6_STATUS_STALE_SECONDS."""
    service = _service()
    service.hub.refresh_if_idle()
    reason = not_ready_reason(service.source, service.settings.status_stale_seconds)
    if reason is not None:
        return jsonify(status="not ready", reason=reason), 503
    return jsonify(status="ready", age_seconds=round(service.source.age_seconds(), 3))


def not_ready_reason(source, stale_seconds: float) -> str | None:
    """Why the service should not receive traffic yet, or None when it should."""
    if source.unavailable:
        return source.unavailable
    age = source.age_seconds()
    if age is None:
        return source.last_error or "no status read yet"
    if age > stale_seconds:
        return f"status is stale ({age:.0f}s old, limit {stale_seconds:g}s)"
    return None
