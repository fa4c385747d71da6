"""``PUT /summary/status``: a collector on another machine pushes a status document.

Owns the request checks (enabled, bearer token, media type, size, JSON object) and hands the
document to the configured source's ``store``, so every worker (and, with Redis, every
instance) serves it through its usual path. It never publishes to the hub directly.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, current_app, jsonify, request

from .errors import ApiError
from .security import token_matches
from .source import SourceError, parse_document

logger = logging.getLogger(__name__)

bp = Blueprint("ingest", __name__)


def _check_token(expected: str) -> None:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_matches(expected, supplied.strip()):
        raise ApiError(401, "unauthorized", {"WWW-Authenticate": 'Bearer realm="g6app"'})


def _read_body(max_bytes: int) -> bytes:
    """The body, refusing more than ``max_bytes`` before and while reading it."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, f"status document larger than {max_bytes} bytes")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError(413, f"status document larger than {max_bytes} bytes")
    return raw


@bp.put("/summary/status")
def put_status():
    """Validate a status document and store it where every worker reads."""
    service = current_app.extensions["g6app"]
    settings = service.settings
    if not settings.ingest_token:
        raise ApiError(404, "ingest disabled")
    _check_token(settings.ingest_token)
    if request.mimetype != "application/json":
        raise ApiError(415, "expected Content-Type: application/json")
    raw = _read_body(settings.status_max_bytes)
    try:
        document = parse_document(raw, settings.status_max_bytes)
    except SourceError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        service.source.store(document)
    except OSError as exc:
        logger.warning("status ingest failed kind=%s error=%s", service.source.kind, exc)
        raise ApiError(503, "status source unavailable", {"Retry-After": "1"}) from None
    logger.info("status ingested kind=%s size_bytes=%d", service.source.kind, len(raw))
    return jsonify(status="stored", source=service.source.kind, size_bytes=len(raw),
                   sha256=hashlib.sha256(raw).hexdigest())
