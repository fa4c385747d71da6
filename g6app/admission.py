"""The admission gate of ``/summary/events``: every rule applied before the first byte.

Order: token (401), IP allow-list (403), User-Agent allow-list (403), per-address connect rate
(429), server-wide connection cap (429). Each rejection is counted in its own metric and in
``g6_sse_http_rejected_connections_total`` and answered as JSON. The decisions themselves live
in security (pure) and limits (shared bookkeeping); this module only applies them to a request.
"""

from __future__ import annotations

import logging
import math

from flask import Request

from . import security
from .errors import ApiError
from .limits import Release
from .security import Rejection

logger = logging.getLogger(__name__)

CAPACITY_RETRY_AFTER_SECONDS = 5


def client_of(request: Request, settings) -> str:
    """The client's address as the admission rules see it (see security.client_address)."""
    return security.client_address(request.remote_addr or "", request.headers.get("X-Forwarded-For"),
                                   settings.trusted_proxies)


def reject(service, rejection: Rejection, request_id: str, address: str) -> ApiError:
    """Count and log one rejection; return the error to raise."""
    getattr(service.metrics, rejection.counter).inc()
    service.metrics.rejected.inc()
    logger.info("stream rejected reason=%s status=%s client=%s request_id=%s",
                rejection.counter, rejection.status, address, request_id)
    headers = {}
    if rejection.retry_after_seconds is not None:
        headers["Retry-After"] = str(rejection.retry_after_seconds)
    return ApiError(rejection.status, rejection.reason, headers)


def check_identity(service, request: Request, request_id: str) -> str:
    """Token, IP and User-Agent rules; returns the client address or raises ApiError."""
    settings = service.settings
    address = client_of(request, settings)
    token = security.presented_token(request.headers, request.args)
    rejection = security.check(settings, token, address, request.headers.get("User-Agent"))
    if rejection is not None:
        raise reject(service, rejection, request_id, address)
    return address


def take_capacity(service, address: str, request_id: str) -> Release | None:
    """Connect rate, then the connection cap; returns the slot's release (None when uncapped)."""
    settings, limits = service.settings, service.limits
    if settings.sse_ip_connect_rate is not None:
        wait_seconds = limits.connect_allowed(address)
        if wait_seconds is not None:
            retry = max(1, math.ceil(wait_seconds))
            raise reject(service, Rejection(429, "rate limited", "rate_limited", retry),
                         request_id, address)
    if settings.sse_max_connections <= 0:
        return None
    release = limits.acquire_slot()
    if release is None:
        raise reject(service, Rejection(429, "too many connections", "capacity_rejected",
                                        CAPACITY_RETRY_AFTER_SECONDS), request_id, address)
    return release
