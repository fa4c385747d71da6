"""The predecessor's failure, pinned: a real multi-worker server's /metrics always carries the
SSE connection families, with true values, in an exposition that parses."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def families(text: str) -> dict:
    parsed = list(text_string_to_metric_families(text))
    names = [family.name for family in parsed]
    assert len(names) == len(set(names)), f"duplicate families: {names}"
    return {family.name: family for family in parsed}


def test_metrics_server_exposes_sse_metrics(gunicorn_server):
    """Two gevent workers in multiprocess mode: both families present at zero on the first scrape."""
    server = gunicorn_server(workers=2)
    found = families(server.get_text("/metrics"))
    active = found["g6_sse_http_active_connections"]
    total = found["g6_sse_http_connections"]
    assert active.type == "gauge" and total.type == "counter"
    assert sum(s.value for s in active.samples) == 0
    assert [s.value for s in total.samples if s.name.endswith("_total")] == [0]
