"""The live dashboard page at ``/`` and its static files (no build step, no external host).

Renders only the page skeleton (the eight panel cards with their titles, in panel order) and
the timing hints the script needs; panel content arrives through the stream, which is where
admission and tokens are checked. The page itself and its files need no token.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from .panels import PANEL_KEYS, PANEL_TITLES

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/dashboard/static")

# The page loads its own script and stylesheet only; connections go to this origin only.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The EventSource URL may carry access_token: never hand it on as a referrer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
STALE_MARGIN_SECONDS = 5.0


def stale_after_seconds(settings) -> float:
    """Silence after which the page calls its stream stale: two heartbeat periods and a margin.

    Keepalive comments are invisible to EventSource, so heartbeat events are what it can count
    on while nothing changes."""
    heartbeat_seconds = settings.sse_heartbeat_cycles * settings.refresh_seconds
    return round(2 * heartbeat_seconds + STALE_MARGIN_SECONDS, 1)


@bp.get("/")
def index() -> Response:
    """The page: cards in panel order, filled and kept live by dashboard.js."""
    service = current_app.extensions["g6app"]
    html = render_template(
        "dashboard.html",
        panels=[(key, PANEL_TITLES[key]) for key in PANEL_KEYS],
        stale_after_seconds=stale_after_seconds(service.settings),
        version=service.version,
    )
    return Response(html, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
