"""G6_SSE_HTTP and G6_SUMMARY_METRICS_HTTP switch the stream and /metrics off, nothing else."""

from __future__ import annotations


def json_404(response) -> str:
    assert response.status_code == 404
    assert response.content_type == "application/json"
    return response.get_json()["error"]


def test_toggles_stream_off_is_404(make_app):
    """G6_SSE_HTTP=0: the stream answers 404 JSON and opens nothing; JSON endpoints still work."""
    client = make_app(G6_SSE_HTTP="0").test_client()
    assert json_404(client.get("/summary/events"))
    assert client.get("/summary/resync").status_code == 200
    health = client.get("/summary/health")
    assert health.status_code == 200 and health.get_json()["active_streams"] == 0
    assert client.get("/metrics").status_code == 200


def test_toggles_stream_on_by_default(make_app):
    """Without the toggle the same request streams (the 404 above is the toggle's doing)."""
    response = make_app().test_client().get("/summary/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.content_type.startswith("text/event-stream")
    finally:
        response.close()


def test_toggles_metrics_off_is_404(make_app):
    """G6_SUMMARY_METRICS_HTTP=0: /metrics answers 404 JSON, the rest is unaffected."""
    client = make_app(G6_SUMMARY_METRICS_HTTP="false").test_client()
    assert json_404(client.get("/metrics"))
    assert client.get("/summary/resync").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_toggles_metrics_on_by_default(make_app):
    """Without the toggle /metrics serves the exposition."""
    response = make_app().test_client().get("/metrics")
    assert response.status_code == 200
    assert "g6_sse_http_active_connections" in response.get_data(as_text=True)
