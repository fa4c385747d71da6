"""The JSON endpoints through Flask's test client: resync, health, liveness, readiness, errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from g6app.hashing import panel_hash, state_id
from g6app.panels import PANEL_KEYS
from tests.support import status


def assert_json_error(response, code: int) -> str:
    assert response.status_code == code
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "Traceback" not in text
    return body["error"]


def test_api_resync_is_self_consistent(make_app):
    """Every resync hash verifies against its panel and the id digests the hash map."""
    body = make_app().test_client().get("/summary/resync").get_json()
    assert list(body["panels"]) == list(PANEL_KEYS)
    assert body["cycle"] == 40105 and body["schema_version"] == 1
    for panel in body["panels"].values():
        assert panel_hash(panel) == panel["hash"]
    assert body["id"] == state_id({k: p["hash"] for k, p in body["panels"].items()})


def test_api_resync_follows_new_status(make_app, status_file: Path):
    """Without a poller, resync reads the file itself and shows a new status at once."""
    client = make_app().test_client()
    before = client.get("/summary/resync").get_json()
    status.write(status_file, status.with_ltp(status.load(), "NIFTY", 21000.0))
    after = client.get("/summary/resync").get_json()
    assert after["id"] != before["id"]
    changed = [k for k in PANEL_KEYS if after["panels"][k]["hash"] != before["panels"][k]["hash"]]
    assert changed == ["indices"]


def test_api_health_fields(make_app, status_file: Path):
    """/summary/health reports cycle, id, source, panel updates, hit ratio and streams."""
    client = make_app().test_client()
    body = client.get("/summary/health").get_json()
    resync = client.get("/summary/resync").get_json()
    assert body["schema_version"] == 1 and body["version"]
    assert body["cycle"] == 40105 and body["id"] == resync["id"]
    assert body["active_streams"] == 0 and body["worker_pid"] == os.getpid()
    assert set(body["panel_updates"]) == set(PANEL_KEYS)
    assert "diff_hit_ratio" in body
    source = body["source"]
    assert source["kind"] == "file" and source["path"] == str(status_file)
    assert source["last_error"] is None
    assert source["last_change"] == pytest.approx(os.stat(status_file).st_mtime)
    assert 0 <= source["age_seconds"] < 3600


def test_api_health_reports_source_error(make_app, status_file: Path):
    """A broken status file shows up as the source's last error, the state unchanged."""
    client = make_app().test_client()
    good = client.get("/summary/health").get_json()
    status.write(status_file, "[1, 2]")
    body = client.get("/summary/health").get_json()
    assert "not an object" in body["source"]["last_error"]
    assert body["id"] == good["id"] and body["cycle"] == good["cycle"]


def test_api_healthz(make_app, status_file: Path):
    """Liveness answers 200 even with no status at all."""
    status_file.unlink()
    response = make_app().test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_api_readyz_ready_with_fresh_file(make_app):
    """A freshly written status makes the worker ready."""
    response = make_app().test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_api_readyz_503_when_missing(make_app, status_file: Path):
    """No status file: 503 JSON with a reason; health shows the waiting panels."""
    status_file.unlink()
    client = make_app().test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.content_type == "application/json"
    body = response.get_json()
    assert body["status"] == "not ready" and body["reason"]
    assert client.get("/summary/resync").get_json()["cycle"] is None
    status.write(status_file, status.load())
    assert client.get("/readyz").status_code == 200


def test_api_readyz_503_when_stale(make_app, status_file: Path):
    """A status older than G6_STATUS_STALE_SECONDS is not ready, with the reason saying so."""
    old = time.time() - 3600
    os.utime(status_file, (old, old))
    client = make_app(G6_STATUS_STALE_SECONDS="5").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "stale" in response.get_json()["reason"]
    status.write(status_file, status.load())
    assert client.get("/readyz").status_code == 200


def test_api_unknown_path_is_json_404(make_app):
    """An unknown path answers 404 as JSON, no HTML."""
    assert assert_json_error(make_app().test_client().get("/no/such/page"), 404) == "not found"


def test_api_wrong_method_is_json_405(make_app):
    """A wrong method answers 405 as JSON with an Allow header."""
    response = make_app().test_client().post("/summary/resync")
    assert assert_json_error(response, 405) == "method not allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/summary/resync", "/summary/health", "/healthz", "/readyz"])
def test_api_head_works(make_app, path):
    """HEAD answers like GET, without a body."""
    client = make_app().test_client()
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content_type == get.content_type
    assert head.get_data() == b""


def test_api_head_on_stream_opens_nothing(make_app):
    """HEAD on the stream gives its headers and no body, and leaves no stream open."""
    client = make_app().test_client()
    head = client.head("/summary/events")
    assert head.status_code == 200
    assert head.content_type.startswith("text/event-stream")
    assert head.get_data() == b""
    assert client.get("/summary/health").get_json()["active_streams"] == 0


def test_api_request_id_echoed(make_app):
    """A plain X-Request-ID is echoed; an unsafe one is replaced."""
    client = make_app().test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "X-Request-ID"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\x7f<>"}).headers[
        "X-Request-ID"]
    assert replaced != "bad id\x7f<>" and replaced.isalnum()


def test_api_readyz_503_when_deleted_after_read(make_app, status_file: Path):
    """A status file that disappears after a good read makes the worker not ready."""
    client = make_app().test_client()
    assert client.get("/readyz").status_code == 200
    status_file.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "missing" in response.get_json()["reason"]
