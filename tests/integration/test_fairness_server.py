"""Resume, pacing, slow clients, size and lifetime limits on a real two-worker server."""

from __future__ import annotations

import threading
import time

import pytest

from g6app.panels import build_panels
from g6app.state import make_state
from tests.support import status
from tests.support.metrics import scrape
from tests.support.sse import SSEClient, StreamClosed
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


class Writer:
    """Writes a new visible status every ``interval_seconds`` in the background until stopped."""

    def __init__(self, path, document, interval_seconds: float, big_alerts: bool = False):
        self.path, self.document, self.interval = path, document, interval_seconds
        self.big_alerts = big_alerts
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += 1
            doc = status.with_ltp(self.document, "NIFTY", 20000 + self.count)
            if self.big_alerts:
                doc["alerts"] = [f"alert {self.count}-{i} " + "x" * 100 for i in range(50)]
            status.write(self.path, doc)
            self.last_document = doc
            self._stop.wait(self.interval)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def expected_id(document) -> str:
    """The state id any server must reach for ``document`` (computed here, independently)."""
    state, _ = make_state(0, None, build_panels(document), 65536)
    return state.id


def snapshot_id(client: SSEClient) -> str:
    events = client.events_until(lambda e: e.id is not None and e.type != "hello")
    assert events[0].type == "hello"
    return events[-1].id


def test_resume_after_reconnect_sends_only_the_difference(gunicorn_server):
    """Last-Event-ID of a known state: hello, then only the changed panel, no full_snapshot."""
    server = gunicorn_server(env={"G6_SSE_HEARTBEAT_CYCLES": "5"})
    with SSEClient.connect(server.url) as client:
        first_id = snapshot_id(client)
    changed = status.with_ltp(status.load(), "NIFTY", 20202.0)
    status.write(server.status_file, changed)
    current_id = expected_id(changed)
    server.wait_all_workers(lambda health: health["id"] == current_id)
    for attempt in range(4):  # each reconnect may land on either worker; all must resume
        with SSEClient.connect(server.url, headers={"Last-Event-ID": first_id}) as client:
            hello, update = client.next_event(), client.next_event()
        assert (hello.type, hello.id) == ("hello", first_id), attempt
        assert update.type == "panel_update" and update.id == current_id
        assert [u["key"] for u in update.data["updates"]] == ["indices"]
    path = f"/summary/events?last_event_id={current_id}"
    with SSEClient.connect(server.url, path) as client:
        assert client.next_event().type == "hello"
        assert client.next_event(timeout_seconds=5).type == "heartbeat"  # nothing to send
    assert scrape(server)['g6_sse_http_resumes_total{result=hit}'] == 5


def test_resume_with_unknown_id_gets_full_snapshot(gunicorn_server):
    """An id this server never saw (garbage, evicted, other deployment) gets the full state."""
    server = gunicorn_server()
    with SSEClient.connect(server.url, headers={"Last-Event-ID": "0123456789abcdef"}) as client:
        hello, snapshot = client.next_event(), client.next_event()
    assert hello.id is None and snapshot.type == "full_snapshot"
    assert scrape(server)['g6_sse_http_resumes_total{result=miss}'] == 1


def test_rate_limited_client_converges_to_final_state(gunicorn_server):
    """At 2 events/s a client is coalesced while statuses pour in, then ends on the final hashes."""
    server = gunicorn_server(env={"G6_SSE_EVENTS_PER_SEC": "2"})
    with SSEClient.connect(server.url) as client:
        snapshot_id(client)
        with Writer(server.status_file, status.load(), 0.05) as writer:
            wait_until(lambda: writer.count >= 40, timeout_seconds=20)
        final = expected_id(writer.last_document)
        updates = client.events_until(lambda e: e.type == "panel_update" and e.id == final,
                                      timeout_seconds=10)
    received = [e for e in updates if e.type == "panel_update"]
    assert len(received) < 20, "updates were not coalesced"
    assert scrape(server)["g6_sse_http_events_dropped_total"] > 0


def test_slow_client_dropped_while_other_client_stays_on_time(gunicorn_server):
    """A client that reads nothing is cut after the write timeout; a reading client is unharmed."""
    server = gunicorn_server(workers=1, env={"G6_SSE_WRITE_TIMEOUT_SECONDS": "2",
                                             "G6_SSE_SEND_BUFFER_BYTES": "4096"})
    slow = SSEClient.connect(server.url, rcvbuf_bytes=2048)
    fast = SSEClient.connect(server.url)
    try:
        snapshot_id(fast)
        with Writer(server.status_file, status.load(), 0.1, big_alerts=True) as writer:
            deadline = time.monotonic() + 20
            worst = 0.0
            while scrape(server)["g6_sse_http_slow_client_disconnects_total"] < 1:
                assert time.monotonic() < deadline, "slow client never dropped"
                seen = writer.count
                written = time.monotonic()
                event = fast.events_until(lambda e: e.type == "panel_update")[-1]
                worst = max(worst, time.monotonic() - written)
                assert event.data["cycle"] == 40105 and seen >= 1
        assert worst < 1.5, f"the fast client waited {worst:.2f}s for an update"
        wait_until(lambda: scrape(server)["g6_sse_http_active_connections"] == 1)
    finally:
        slow.close()
        fast.close()


def test_event_size_cap_splits_and_clips(gunicorn_server):
    """No event exceeds G6_SSE_MAX_EVENT_BYTES; a large snapshot is split, a huge panel clipped."""
    document = status.load()
    document["alerts"] = [f"alert {i} " + "y" * 100 for i in range(50)]
    server = gunicorn_server(env={"G6_SSE_MAX_EVENT_BYTES": "1500"}, document=document)
    with SSEClient.connect(server.url) as client:
        events = client.events_until(lambda e: e.id is not None and e.type != "hello")
    sizes = [len(e.raw) + 2 for e in events]
    assert max(sizes) <= 1500, sizes
    transfer = events[1:]
    assert transfer[0].type == "full_snapshot" and len(transfer) > 1
    assert all(e.data.get("partial") is True and e.id is None for e in transfer[:-1])
    assert "partial" not in transfer[-1].data
    alerts = next(u for e in transfer[1:] for u in e.data["updates"] if u["key"] == "alerts") \
        if "alerts" not in transfer[0].data["panels"] else transfer[0].data["panels"]["alerts"]
    assert alerts["lines"][-1].endswith("more lines not shown (event size limit)")
    assert server.get_json("/summary/resync")[1]["panels"]["alerts"]["hash"] == alerts["hash"]
    assert scrape(server)["g6_sse_http_security_events_dropped_total"] >= 1


def test_max_stream_lifetime_ends_with_bye(gunicorn_server):
    """With G6_SSE_MAX_STREAM_SECONDS a stream ends with bye max_lifetime within 80-100 %."""
    server = gunicorn_server(env={"G6_SSE_MAX_STREAM_SECONDS": "1.5"})
    with SSEClient.connect(server.url) as client:
        opened = time.monotonic()
        bye = client.events_until(lambda e: e.type == "bye", timeout_seconds=5)[-1]
        lived = time.monotonic() - opened
        with pytest.raises(StreamClosed):
            client.next_event(timeout_seconds=3)
    assert bye.data == {"reason": "max_lifetime"}
    assert 1.1 <= lived <= 2.5
