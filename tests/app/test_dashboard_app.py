"""The dashboard page and its static files through Flask's test client."""

from __future__ import annotations

import re

from g6app.panels import PANEL_KEYS, PANEL_TITLES


def test_dashboard_page_lists_eight_cards_in_panel_order(make_app):
    """GET / answers HTML with one card per panel, in panel order, titled, and the stream URL."""
    response = make_app().test_client().get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    html = response.get_data(as_text=True)
    assert re.findall(r'id="panel-([a-z]+)"', html) == list(PANEL_KEYS)
    for title in PANEL_TITLES.values():
        assert f'<span class="title">{title.replace("&", "&amp;")}</span>' in html
    assert 'data-events-url="/summary/events"' in html
    assert 'data-health-url="/summary/health"' in html


def test_dashboard_page_has_no_inline_script_and_a_strict_policy(make_app):
    """The page loads only same-origin files: CSP without 'unsafe-inline', no inline scripts."""
    response = make_app().test_client().get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe" not in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/dashboard/static/' in attrs and not body.strip()
                           for attrs, body in scripts)
    assert "http://" not in html and "https://" not in html
    assert " style=" not in html and "<style" not in html


def test_dashboard_static_files_are_served_with_their_types(make_app):
    """The script and stylesheet the page names are served, with JavaScript and CSS types."""
    client = make_app().test_client()
    with client.get("/dashboard/static/dashboard.js") as script:
        assert script.status_code == 200 and "javascript" in script.content_type
        assert b"new EventSource(" in script.data
    with client.get("/dashboard/static/dashboard.css") as style:
        assert style.status_code == 200 and style.content_type.startswith("text/css")
        assert b"prefers-color-scheme: dark" in style.data


def test_dashboard_unknown_static_file_is_a_json_404(make_app):
    """A missing static file answers the service's JSON error, not an HTML page."""
    response = make_app().test_client().get("/dashboard/static/nope.js")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found"}


def test_dashboard_page_needs_no_token_when_the_stream_does(make_app):
    """With an API token configured the page still loads; HEAD works like GET."""
    client = make_app(G6_SSE_API_TOKEN="s3cret-token").test_client()
    assert client.get("/").status_code == 200
    head = client.head("/")
    assert head.status_code == 200 and head.data == b""
    assert "s3cret-token" not in client.get("/").get_data(as_text=True)


def test_dashboard_stale_hint_follows_heartbeat_settings(make_app):
    """The page's stale threshold is two heartbeat periods plus a margin, from the settings."""
    app = make_app(G6_SSE_HEARTBEAT_CYCLES="4", G6_SUMMARY_REFRESH_SEC="0.5")
    html = app.test_client().get("/").get_data(as_text=True)
    assert 'data-stale-after-seconds="9.0"' in html
