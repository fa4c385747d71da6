"""JSON errors: every failure answers ``{"error": "<short reason>"}`` with its status code.

No HTML error pages, no stack traces, no file paths reach a client; unexpected exceptions
are logged here once and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a view raises on purpose, with the reason the client should read."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


def json_error(status: int, reason: str, headers: Mapping[str, str] | None = None):
    response = jsonify(error=reason)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    """Install the JSON handlers on ``app``."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return json_error(exc.status, exc.reason, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        return json_error(exc.code or 500, (exc.name or "error").lower(), headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unhandled error")
        return json_error(500, "internal error")
