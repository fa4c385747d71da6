"""The /summary/events stream through Flask's test client: snapshot, updates, resumes, cleanup.

No gunicorn and no poller here: a waiting stream polls the status file itself every
G6_SUMMARY_REFRESH_SEC. Every read runs in a helper thread with a deadline, so a stream that
stops producing fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from g6app.panels import PANEL_KEYS
from tests.support import status

READ_SECONDS = 10


class StreamEnded(Exception):
    """The response body ended."""


class Stream:
    """Reads an unbuffered test-client response event by event, with a deadline on every read."""

    def __init__(self, response: Any):
        self.response = response
        self._iter = iter(response.response)
        self._buf = b""
        self._stuck = False
        self.retry: int | None = None
        self.comments: list[str] = []

    def _chunk(self, timeout_seconds: float) -> bytes:
        box: dict[str, Any] = {}

        def read() -> None:
            try:
                box["chunk"] = next(self._iter)
            except StopIteration:
                box["end"] = True
            except BaseException as exc:  # surfaced in the test thread
                box["error"] = exc

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        thread.join(max(timeout_seconds, 0.001))
        if thread.is_alive():
            self._stuck = True
            raise AssertionError(f"no bytes from the stream within {timeout_seconds:.1f}s")
        if "error" in box:
            raise box["error"]
        if "end" in box:
            raise StreamEnded
        return box["chunk"]

    def first_chunk(self) -> list[dict[str, Any]]:
        """All events of the first write (retry, hello and what follows it)."""
        self._buf += self._chunk(READ_SECONDS)
        return self._drain()

    def _drain(self) -> list[dict[str, Any]]:
        events = []
        while b"\n\n" in self._buf:
            block, self._buf = self._buf.split(b"\n\n", 1)
            event = self._parse(block)
            if event is not None:
                events.append(event)
        return events

    def _parse(self, block: bytes) -> dict[str, Any] | None:
        fields: dict[str, Any] = {}
        for line in block.decode("utf-8").split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, sep, value = line.partition(": ")
            assert sep and name in ("event", "id", "retry", "data") and name not in fields, line
            fields[name] = json.loads(value) if name == "data" else value
        if "retry" in fields:
            self.retry = int(fields["retry"])
        if "data" not in fields:
            return None
        fields["size"] = len(block) + 2
        return fields

    def events_until(self, predicate, timeout_seconds: float = READ_SECONDS) -> list[dict]:
        """Events read until one satisfies ``predicate`` (that one last), within the deadline."""
        deadline = time.monotonic() + timeout_seconds
        seen: list[dict] = []
        while True:
            for event in self._drain():
                seen.append(event)
                if predicate(event):
                    return seen
            self._buf += self._chunk(deadline - time.monotonic())

    def close(self) -> None:
        if self._stuck:  # the body is still executing in the reader thread
            return
        self.response.close()


@pytest.fixture
def open_stream():
    """``open_stream(client, query="", headers=None)`` -> Stream; every stream closed after."""
    streams: list[Stream] = []

    def start(client, query: str = "", headers: dict[str, str] | None = None) -> Stream:
        response = client.get("/summary/events" + query, headers=headers or {}, buffered=False)
        assert response.status_code == 200, response.get_data(as_text=True)
        stream = Stream(response)
        streams.append(stream)
        return stream

    yield start
    for stream in streams:
        with contextlib.suppress(ValueError):
            stream.close()


def kinds(events: list[dict]) -> list[str]:
    return [event["event"] for event in events]


def is_type(kind: str):
    return lambda event: event["event"] == kind


def scrape(client) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_stream_headers(make_app, open_stream):
    """The stream answers 200 with the SSE content type and no-buffering headers."""
    client = make_app().test_client()
    stream = open_stream(client)
    headers = stream.response.headers
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache, no-transform"
    assert headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in headers


def test_stream_first_chunk_retry_hello_snapshot(make_app, open_stream):
    """The first write holds retry, hello and a full_snapshot of all eight panels."""
    client = make_app(G6_SSE_RETRY_MS="2500").test_client()
    stream = open_stream(client)
    first = stream.first_chunk()
    assert stream.retry == 2500
    assert kinds(first) == ["hello", "full_snapshot"]
    hello, snapshot = first
    assert "id" not in hello  # a new client holds nothing yet
    assert [p["key"] for p in hello["data"]["panels"]] == list(PANEL_KEYS)
    data = snapshot["data"]
    assert list(data["panels"]) == list(PANEL_KEYS)
    assert snapshot["id"] == data["id"] == hello["data"]["id"]
    assert data["cycle"] == 40105
    assert {k: v["hash"] for k, v in data["panels"].items()} == {
        p["key"]: p["hash"] for p in hello["data"]["panels"]}


def test_stream_update_carries_only_changed_panel(make_app, open_stream, status_file: Path):
    """A new status with one changed price yields a panel_update with only the indices panel."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="100000").test_client()
    stream = open_stream(client)
    snapshot = stream.first_chunk()[-1]
    status.write(status_file, status.with_ltp(status.load(), "NIFTY", 20123.45))
    seen = stream.events_until(is_type("panel_update"))
    update = seen[-1]
    assert kinds(seen) == ["panel_update"]
    [entry] = update["data"]["updates"]
    assert entry["key"] == "indices"
    assert any("20,123.45" in line for line in entry["lines"])
    assert entry["hash"] != snapshot["data"]["panels"]["indices"]["hash"]
    assert update["id"] == update["data"]["id"] != snapshot["id"]
    resync = client.get("/summary/resync").get_json()
    assert resync["id"] == update["id"]


def test_stream_heartbeat_after_unchanged_cycles(make_app, open_stream):
    """With G6_SSE_HEARTBEAT_CYCLES=2 and nothing changing, a heartbeat arrives with the held id."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="2").test_client()
    stream = open_stream(client)
    snapshot = stream.first_chunk()[-1]
    heartbeat = stream.events_until(is_type("heartbeat"))[-1]
    assert heartbeat["id"] == snapshot["id"]
    assert heartbeat["data"] == {"cycle": 40105, "id": snapshot["id"], "unchanged": True}


def test_stream_error_event_keeps_state(make_app, open_stream, status_file: Path):
    """An invalid status write yields one error event; resync keeps the last good state."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="100000").test_client()
    stream = open_stream(client)
    snapshot = stream.first_chunk()[-1]
    status.write(status_file, '{"loop": {"cycle": 4')
    seen = stream.events_until(is_type("error"))
    assert kinds(seen) == ["error"]
    error = seen[-1]
    assert error["data"]["recoverable"] is True
    assert "JSON" in error["data"]["message"]
    assert str(status_file) not in error["data"]["message"]
    assert error["id"] == snapshot["id"]
    assert client.get("/summary/resync").get_json()["id"] == snapshot["id"]
    status.write(status_file, status.with_ltp(status.load(), "NIFTY", 1.0))
    assert kinds(stream.events_until(is_type("panel_update"))) == ["panel_update"]


def test_stream_panel_filter(make_app, open_stream, status_file: Path):
    """?panels=indices,alerts restricts the snapshot and every later update to those panels."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="100000").test_client()
    stream = open_stream(client, "?panels=alerts,indices")
    hello, snapshot = stream.first_chunk()
    assert [p["key"] for p in hello["data"]["panels"]] == ["indices", "alerts"]
    assert list(snapshot["data"]["panels"]) == ["indices", "alerts"]
    full_id = client.get("/summary/resync").get_json()["id"]
    assert snapshot["id"] != full_id  # the view's own id
    document = status.load()
    document["loop"]["cycle"] += 1  # header only: invisible through this filter
    status.write(status_file, document)
    status.write(status_file, status.with_ltp(document, "NIFTY", 20500.0))
    seen = stream.events_until(is_type("panel_update"))
    assert kinds(seen) == ["panel_update"]
    assert [u["key"] for u in seen[-1]["data"]["updates"]] == ["indices"]


def test_stream_unknown_panel_is_400(make_app):
    """An unknown panel key is refused before the stream starts, naming the key."""
    client = make_app().test_client()
    response = client.get("/summary/events?panels=indices,bogus")
    assert response.status_code == 400
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and "bogus" in body["error"] and "panels" in body["error"]


@pytest.mark.parametrize("via", ["header", "query"])
def test_stream_resume_known_id_sends_only_changes(make_app, open_stream, status_file: Path, via):
    """Resuming from a remembered id sends hello and only the changed panels, no snapshot."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="100000").test_client()
    first = open_stream(client)
    held = first.first_chunk()[-1]["id"]
    first.close()
    status.write(status_file, status.with_ltp(status.load(), "NIFTY", 19000.5))
    query, headers = ("", {"Last-Event-ID": held}) if via == "header" else (
        f"?last_event_id={held}", {})
    resumed = open_stream(client, query, headers)
    events = resumed.first_chunk()
    assert kinds(events) == ["hello", "panel_update"]
    assert events[0]["id"] == held
    assert [u["key"] for u in events[1]["data"]["updates"]] == ["indices"]
    assert events[1]["id"] == client.get("/summary/resync").get_json()["id"]
    assert scrape(client)[("g6_sse_http_resumes_total", (("result", "hit"),))] == 1


def test_stream_resume_current_id_sends_nothing_more(make_app, open_stream):
    """Resuming from the current id sends hello alone: nothing differs."""
    client = make_app(G6_SSE_HEARTBEAT_CYCLES="100000").test_client()
    held = open_stream(client).first_chunk()[-1]["id"]
    events = open_stream(client, headers={"Last-Event-ID": held}).first_chunk()
    assert kinds(events) == ["hello"]
    assert events[0]["id"] == held


def test_stream_resume_unknown_id_gets_snapshot(make_app, open_stream):
    """An id this worker does not remember gets the usual full snapshot."""
    client = make_app().test_client()
    events = open_stream(client, headers={"Last-Event-ID": "0123456789abcdef"}).first_chunk()
    assert kinds(events) == ["hello", "full_snapshot"]
    assert "id" not in events[0]
    assert list(events[1]["data"]["panels"]) == list(PANEL_KEYS)
    assert scrape(client)[("g6_sse_http_resumes_total", (("result", "miss"),))] == 1


def test_stream_close_releases_resources(make_app, open_stream):
    """Closing the response brings active_streams and the active gauge back to zero."""
    client = make_app().test_client()
    streams = [open_stream(client), open_stream(client)]
    for stream in streams:
        stream.first_chunk()
    assert client.get("/summary/health").get_json()["active_streams"] == 2
    assert scrape(client)[("g6_sse_http_active_connections", ())] == 2
    for stream in streams:
        stream.close()
    assert client.get("/summary/health").get_json()["active_streams"] == 0
    samples = scrape(client)
    assert samples[("g6_sse_http_active_connections", ())] == 0
    assert samples[("g6_sse_http_connections_total", ())] == 2
    assert samples[("g6_sse_http_disconnects_total", ())] == 2


def test_stream_resync_parity(make_app, open_stream):
    """/summary/resync carries the same id, hashes and content as the stream's snapshot."""
    client = make_app().test_client()
    snapshot = open_stream(client).first_chunk()[-1]["data"]
    resync = client.get("/summary/resync").get_json()
    assert resync["id"] == snapshot["id"] and resync["cycle"] == snapshot["cycle"]
    assert resync["schema_version"] == snapshot["schema_version"]
    assert resync["panels"] == snapshot["panels"]
    assert list(resync["panels"]) == list(PANEL_KEYS)
