"""The admission gate through Flask's test client: answers, headers, counters, slot release."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def counter(app, name: str) -> float:
    registry = app.extensions["g6app"].metrics.registry
    return registry.get_sample_value(name) or 0.0


def test_admission_app_rejections_are_json_and_counted(make_app):
    """401, 403 (IP), 403 (UA) answer JSON with their reason and count in their own metric."""
    app = make_app(G6_SSE_API_TOKEN="tok", G6_SSE_UA_ALLOW="g6-")
    client = app.test_client()
    response = client.get("/summary/events")
    assert (response.status_code, response.get_json()) == (401, {"error": "unauthorized"})
    response = client.get("/summary/events?access_token=tok", headers={"User-Agent": "curl"})
    assert (response.status_code, response.get_json()) == (403, {"error": "forbidden"})
    assert counter(app, "g6_sse_http_auth_fail_total") == 1
    assert counter(app, "g6_sse_http_forbidden_ua_total") == 1
    assert counter(app, "g6_sse_http_rejected_connections_total") == 2
    ip_app = make_app(G6_SSE_IP_ALLOW="10.0.0.0/8")
    response = ip_app.test_client().get("/summary/events")
    assert (response.status_code, response.get_json()) == (403, {"error": "forbidden"})
    assert counter(ip_app, "g6_sse_http_forbidden_ip_total") == 1


def test_admission_app_unknown_panel_checked_after_token(make_app):
    """An unauthenticated client learns nothing about panels; an authenticated one gets 400."""
    client = make_app(G6_SSE_API_TOKEN="tok").test_client()
    assert client.get("/summary/events?panels=nope").status_code == 401
    response = client.get("/summary/events?panels=nope", headers={"X-API-Token": "tok"})
    assert response.status_code == 400
    assert "nope" in response.get_json()["error"]


def test_admission_app_cap_frees_slot_when_response_closes(make_app):
    """With a cap of 1 the second stream gets 429 + Retry-After until the first is closed."""
    app = make_app(G6_SSE_MAX_CONNECTIONS="1")
    client = app.test_client()
    first = client.get("/summary/events", buffered=False)
    assert first.status_code == 200
    second = client.get("/summary/events")
    assert second.status_code == 429
    assert second.get_json() == {"error": "too many connections"}
    assert second.headers["Retry-After"] == "5"
    first.close()
    third = client.get("/summary/events", buffered=False)
    assert third.status_code == 200
    third.close()
    assert counter(app, "g6_sse_http_too_many_connections_total") == 1


def test_admission_app_connect_rate_retry_after(make_app):
    """The per-address rate answers 429 with a whole-second Retry-After."""
    app = make_app(G6_SSE_IP_CONNECT_RATE="1/30")
    client = app.test_client()
    client.get("/summary/events", buffered=False).close()
    response = client.get("/summary/events")
    assert response.status_code == 429
    assert response.get_json() == {"error": "rate limited"}
    assert 1 <= int(response.headers["Retry-After"]) <= 30


def test_admission_app_preflight_and_origin(make_app):
    """OPTIONS answers 204 with the allowed headers; every answer names the configured origin."""
    client = make_app(G6_SSE_ALLOW_ORIGIN="https://ops.example").test_client()
    response = client.options("/summary/events", headers={"Origin": "https://ops.example"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://ops.example"
    assert "Last-Event-ID" in response.headers["Access-Control-Allow-Headers"]
    assert client.get("/summary/resync").headers["Access-Control-Allow-Origin"] == \
        "https://ops.example"


def test_admission_app_metrics_families_include_rejection_counters(make_app):
    """Every rejection counter exists at zero before any request."""
    app = make_app()
    text = app.test_client().get("/metrics").get_data(as_text=True)
    names = {f.name for f in text_string_to_metric_families(text)}
    for name in ("g6_sse_http_auth_fail", "g6_sse_http_forbidden_ip", "g6_sse_http_forbidden_ua",
                 "g6_sse_http_rate_limited", "g6_sse_http_too_many_connections",
                 "g6_sse_http_rejected_connections", "g6_sse_http_slow_client_disconnects"):
        assert name in names


def test_admission_app_no_new_stream_once_shutdown_began(make_app):
    """After the worker was told to stop, a new stream gets 503 + Retry-After, not a stream."""
    app = make_app()
    app.extensions["g6app"].stop("shutdown")
    response = app.test_client().get("/summary/events")
    assert response.status_code == 503
    assert response.get_json() == {"error": "shutting down"}
    assert response.headers["Retry-After"] == "1"
