"""Admission decisions that need no shared state: token, client address, IP and UA allow-lists.

Pure functions of plain values (headers as mappings, addresses as strings); no Flask, no
clocks. Connection caps and connect rates need server-wide bookkeeping and live in limits.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from werkzeug.http import parse_list_header

from .config import Network


@dataclass(frozen=True)
class Rejection:
    """Why a stream is refused: HTTP status, the JSON reason, and the metric to count it in."""

    status: int
    reason: str
    counter: str
    retry_after_seconds: int | None = None


UNAUTHORIZED = Rejection(401, "unauthorized", "auth_fail")
FORBIDDEN_IP = Rejection(403, "forbidden", "forbidden_ip")
FORBIDDEN_UA = Rejection(403, "forbidden", "forbidden_ua")


def presented_token(headers: Mapping[str, str], args: Mapping[str, str]) -> str | None:
    """The token from ``X-API-Token``, ``Authorization: Bearer`` or ``?access_token=``."""
    token = headers.get("X-API-Token")
    if token:
        return token
    scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return args.get("access_token") or None


def token_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison (the time taken does not depend on where the strings differ)."""
    return hmac.compare_digest(expected.encode("utf-8"), (presented or "").encode("utf-8"))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def in_networks(address: str, networks: Iterable[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    """The socket peer, or, only when the peer is a trusted proxy, the right-most untrusted
    address of ``X-Forwarded-For`` (the one the trusted chain itself received the request from)."""
    trusted = tuple(trusted)
    if not forwarded_for or not in_networks(peer, trusted):
        return peer
    hops = [hop.strip() for hop in parse_list_header(forwarded_for) if hop.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop if _address(hop) is not None else peer
    return hops[0] if hops and _address(hops[0]) is not None else peer


def ua_allowed(user_agent: str | None, allowed: Iterable[str]) -> bool:
    """An allow-list of User-Agent substrings; an empty list allows every agent."""
    allowed = tuple(allowed)
    return not allowed or any(part in (user_agent or "") for part in allowed)


def check(settings, token: str | None, address: str, user_agent: str | None) -> Rejection | None:
    """Token, then IP allow-list, then User-Agent allow-list; the first failure wins."""
    if settings.sse_api_token and not token_matches(settings.sse_api_token, token):
        return UNAUTHORIZED
    if settings.sse_ip_allow and not in_networks(address, settings.sse_ip_allow):
        return FORBIDDEN_IP
    if not ua_allowed(user_agent, settings.sse_ua_allow):
        return FORBIDDEN_UA
    return None
