"""The stream over real sockets, served by gunicorn with two gevent workers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from g6app.panels import PANEL_KEYS
from tests.support import status
from tests.support.metrics import scrape
from tests.support.sse import SSEClient, StreamClosed
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

REFRESH_SECONDS = 0.1
MARGIN_SECONDS = 0.4


def active(server) -> float:
    return scrape(server)["g6_sse_http_active_connections"]


def test_stream_first_events_over_real_socket(gunicorn_server):
    """A client gets the SSE headers, retry, hello and the full snapshot of all eight panels."""
    server = gunicorn_server()
    with SSEClient.connect(server.url) as client:
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.headers["cache-control"] == "no-cache, no-transform"
        assert client.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in client.headers
        hello = client.next_event()
        snapshot = client.next_event()
    assert client.last_retry == 3000
    assert hello.type == "hello" and hello.id is None
    assert [p["key"] for p in hello.data["panels"]] == list(PANEL_KEYS)
    assert snapshot.type == "full_snapshot"
    assert list(snapshot.data["panels"]) == list(PANEL_KEYS)
    assert snapshot.id == hello.data["id"] == snapshot.data["id"]
    assert snapshot.data["cycle"] == 40105
    _, resync = server.get_json("/summary/resync")
    assert resync["id"] == snapshot.id
    assert {k: p["hash"] for k, p in resync["panels"].items()} == {
        k: p["hash"] for k, p in snapshot.data["panels"].items()}


def test_stream_status_change_arrives_within_refresh(gunicorn_server):
    """A changed status file reaches a connected client within one refresh interval + margin."""
    server = gunicorn_server(env={"G6_SUMMARY_REFRESH_SEC": str(REFRESH_SECONDS)})
    document = status.load()
    with SSEClient.connect(server.url) as client:
        client.next_event()
        snapshot = client.next_event()
        status.write(server.status_file, status.with_ltp(document, "NIFTY", 20111.5))
        written = time.monotonic()
        update = client.events_until(lambda e: e.type == "panel_update")[-1]
    assert update.received_at - written < REFRESH_SECONDS + MARGIN_SECONDS
    assert [u["key"] for u in update.data["updates"]] == ["indices"]
    assert "20,111.50" in "\n".join(update.data["updates"][0]["lines"])
    assert update.id != snapshot.id and update.id == update.data["id"]


def test_stream_gauge_counts_streams_on_both_workers_and_returns_to_zero(gunicorn_server):
    """The livesum gauge equals the open streams across both workers, and 0 once they leave."""
    server = gunicorn_server(workers=2)
    clients = [SSEClient.connect(server.url) for _ in range(10)]
    try:
        for client in clients:
            client.next_event()
        wait_until(lambda: active(server) == 10, message="10 active streams")
        samples = scrape(server)
        assert samples["g6_sse_http_connections_total"] == 10
    finally:
        for client in clients:
            client.close()
    wait_until(lambda: active(server) == 0, message="gauge back to 0")
    wait_until(lambda: scrape(server)["g6_sse_http_disconnects_total"] == 10,
               message="10 disconnects counted")
    _, health = server.get_json("/summary/health")
    assert health["active_streams"] == 0


def test_stream_sigterm_sends_bye_to_every_stream_and_master_exits(gunicorn_server):
    """SIGTERM to the master: every open stream gets bye (randomised retry), the master exits 0."""
    server = gunicorn_server(workers=2)
    clients = [SSEClient.connect(server.url) for _ in range(6)]
    for client in clients:
        client.next_event()
        client.next_event()
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    byes = []
    for client in clients:
        events = client.events_until(lambda e: e.type in ("bye",), timeout_seconds=10)
        byes.append(events[-1])
        with pytest.raises(StreamClosed):
            client.next_event(timeout_seconds=5)
        client.close()
    assert all(bye.data == {"reason": "shutdown"} for bye in byes)
    assert all(3000 <= bye.retry <= 15000 for bye in byes)
    assert server.wait(timeout_seconds=14) == 0
    assert time.monotonic() - started < 10
    assert "Worker graceful timeout" not in server.log()


def test_stream_metrics_survive_worker_replacement(gunicorn_server):
    """A worker killed hard is replaced; families stay present and the totals keep its counts."""
    server = gunicorn_server(workers=2)
    with SSEClient.connect(server.url) as client:
        client.next_event()
    wait_until(lambda: active(server) == 0)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == 2,
               message="worker replaced")
    samples = scrape(server)
    assert samples["g6_sse_http_connections_total"] == 1
    assert samples["g6_sse_http_active_connections"] == 0
