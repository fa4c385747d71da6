"""/metrics through Flask's test client: every documented family from the first scrape, formats."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from g6app.panels import PANEL_KEYS

README = Path(__file__).resolve().parents[2] / "README.md"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def documented_families() -> dict[str, str]:
    """Family name -> type, from the README's metrics table."""
    section = README.read_text(encoding="utf-8").split("\n## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(g6_[a-z0-9_]+)(?:\{[^}]*\})?` \| (\w+)", section, re.MULTILINE)
    assert len(rows) >= 20, "README metrics table not found"
    return {name: kind for name, kind in rows}


def family_key(name: str, kind: str) -> str:
    """The parser's family name: counters lose their _total suffix."""
    return name.removesuffix("_total") if kind == "counter" else name


def test_metrics_every_documented_family_at_zero(make_app):
    """Each family in the README table exists on a fresh app's first scrape, at zero, once."""
    response = make_app().test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "duplicate families"
    by_name = {f.name: f for f in families}
    for name, kind in documented_families().items():
        family = by_name.get(family_key(name, kind))
        assert family is not None, f"{name} missing"
        assert family.type == kind, (name, family.type)
        assert family.samples, f"{name} has no samples"
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if name == "g6_summary_status_age_seconds":
                assert sample.value == -1, "age before the first read"
            else:
                assert sample.value == 0, (sample.name, sample.labels, sample.value)


def test_metrics_labels_predeclared(make_app):
    """Panel update counters exist for all eight panels and resumes for hit and miss."""
    text = make_app().test_client().get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(s.labels.items())) for f in text_string_to_metric_families(text)
               for s in f.samples}
    for panel in PANEL_KEYS:
        assert ("g6_summary_panel_updates_total", (("panel", panel),)) in samples
    for result in ("hit", "miss"):
        assert ("g6_sse_http_resumes_total", (("result", result),)) in samples


def test_metrics_openmetrics_by_accept(make_app):
    """An OpenMetrics Accept header gets the OpenMetrics exposition, ending in # EOF."""
    response = make_app().test_client().get("/metrics", headers={"Accept": OPENMETRICS})
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    text = response.get_data(as_text=True)
    assert text.endswith("# EOF\n")
    names = {f.name for f in parse_openmetrics(text)}
    assert "g6_sse_http_connections" in names and "g6_summary_cycle" in names


def test_metrics_gzip_by_accept_encoding(make_app):
    """Accept-Encoding: gzip gets a gzip body that decompresses to the same exposition."""
    client = make_app().test_client()
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(response.get_data()).decode("utf-8")
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "g6_sse_http_active_connections" in names
    plain = client.get("/metrics")
    assert "Content-Encoding" not in plain.headers


def test_metrics_counts_follow_activity(make_app):
    """A stream's visit shows up in the connection counters (the families are live, not static)."""
    client = make_app().test_client()
    response = client.get("/summary/events", buffered=False)
    next(iter(response.response))  # the first write comes at once
    response.close()
    text = client.get("/metrics").get_data(as_text=True)
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
              if not s.labels}
    assert values["g6_sse_http_connections_total"] == 1
    assert values["g6_sse_http_disconnects_total"] == 1
    assert values["g6_sse_http_events_sent_total"] >= 2
    assert values["g6_sse_http_active_connections"] == 0
