"""The broadcaster: shared bytes framed as chunks, partial sends handed back, failures detached."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from g6app.broadcast import PING, Subscriber, chunk
from g6app.config import Settings
from g6app.hub import Hub
from g6app.metrics import Metrics, observe_many
from g6app.panels import PANEL_KEYS
from g6app.source import FileSource
from tests.support import status


class FakeSocket:
    """Accepts up to ``room`` bytes per send; ``error`` makes every send fail."""

    def __init__(self, room: int = 1 << 20, error: OSError | None = None):
        self.room, self.error = room, error
        self.data = b""

    def send(self, data: bytes, flags: int, timeout: float) -> int:
        assert timeout == 0.0, "the broadcaster must never block on a socket"
        if self.error is not None:
            raise self.error
        if self.room == 0:
            raise BlockingIOError
        taken = data[: self.room]
        self.room -= len(taken)
        self.data += taken
        return len(taken)


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    path = tmp_path / "status.json"
    status.write(path, status.load())
    settings = Settings.from_env({"G6_STATUS_FILE": str(path), "G6_SSE_KEEPALIVE_SECONDS": "15"})
    hub = Hub(FileSource(str(path), settings.status_max_bytes), settings,
              Metrics(CollectorRegistry()))
    hub.refresh()
    hub.path = path
    return hub


def attach(hub: Hub, sock: FakeSocket, last_write: float = 1e12) -> Subscriber:
    sub = Subscriber(sock, PANEL_KEYS, hub.current, hub.heartbeat_seq, hub.error_seq, last_write)
    hub.fanout.attach(sub)
    return sub


def publish_change(hub: Hub, ltp: float) -> None:
    status.write(hub.path, status.with_ltp(status.load(), "NIFTY", ltp))
    assert hub.refresh()


def test_broadcast_chunk_framing():
    """A chunk is hex length, CRLF, the bytes, CRLF."""
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1A\r\n" + b"x" * 26 + b"\r\n"


def test_broadcast_same_update_bytes_to_every_subscriber(hub: Hub):
    """Each caught-up stream gets the hub's one encoded update as a chunk, and is still attached."""
    old = hub.current
    socks = [FakeSocket() for _ in range(3)]
    subs = [attach(hub, sock) for sock in socks]
    publish_change(hub, 20001.0)
    hub.fanout.flush()
    expected = chunk(hub.update_bytes(old, hub.current, PANEL_KEYS))
    assert [sock.data for sock in socks] == [expected] * 3
    assert all(sub.attached and sub.held is hub.current for sub in subs)
    registry = hub.metrics.registry
    assert registry.get_sample_value("g6_sse_http_events_sent_total") == 3
    assert registry.get_sample_value("g6_sse_http_event_size_bytes_count") == 3


def test_broadcast_partial_send_detaches_with_remainder(hub: Hub):
    """A socket that takes only part of a chunk is detached, holding the rest for its greenlet."""
    old = hub.current
    sock = FakeSocket(room=10)
    sub = attach(hub, sock)
    publish_change(hub, 20002.0)
    hub.fanout.flush()
    assert not sub.attached and sub.wake.is_set()
    assert len(sock.data) == 10
    assert sock.data + sub.remainder == chunk(hub.update_bytes(old, hub.current, PANEL_KEYS))
    assert len(hub.fanout) == 0


def test_broadcast_full_socket_and_error(hub: Hub):
    """A full socket hands everything back; a broken one is marked failed; both detached."""
    old = hub.current
    full, broken = FakeSocket(room=0), FakeSocket(error=BrokenPipeError())
    sub_full, sub_broken = attach(hub, full), attach(hub, broken)
    publish_change(hub, 20003.0)
    hub.fanout.flush()
    assert sub_full.remainder == chunk(hub.update_bytes(old, hub.current, PANEL_KEYS))
    assert full.data == b"" and not sub_full.failed and not sub_full.attached
    assert sub_broken.failed and not sub_broken.attached


def test_broadcast_keepalive_ping_only_when_silent(hub: Hub):
    """A stream silent for the keep-alive period gets a ping; a recent writer gets nothing."""
    silent, recent = FakeSocket(), FakeSocket()
    attach(hub, silent, last_write=0.0)
    attach(hub, recent)
    hub.fanout.flush()
    assert silent.data == chunk(PING) and recent.data == b""
    assert hub.metrics.registry.get_sample_value("g6_sse_http_events_sent_total") == 0


def test_broadcast_close_detaches_everyone(hub: Hub):
    """Shutdown wakes every attached stream so it can say bye itself."""
    subs = [attach(hub, FakeSocket()) for _ in range(4)]
    hub.close("shutdown")
    assert all(not sub.attached and sub.wake.is_set() for sub in subs)


def test_metrics_observe_many_equals_repeated_observe():
    """observe_many(v, n) leaves the same buckets, sum and count as n observe(v) calls."""
    one, many = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    for _ in range(7):
        one.event_size.observe(3000)
    observe_many(many.event_size, 3000, 7)
    observe_many(many.event_size, 10, 1)
    one.event_size.observe(10)
    for name in ("g6_sse_http_event_size_bytes_sum", "g6_sse_http_event_size_bytes_count"):
        assert one.registry.get_sample_value(name) == many.registry.get_sample_value(name)
    for bound in ("64.0", "4096.0", "+Inf"):
        labels = {"le": bound}
        assert one.registry.get_sample_value("g6_sse_http_event_size_bytes_bucket", labels) == \
            many.registry.get_sample_value("g6_sse_http_event_size_bytes_bucket", labels)


def test_broadcast_attach_after_close_wakes_at_once(hub: Hub):
    """A stream attaching after shutdown began is not left asleep."""
    hub.close("shutdown")
    sub = attach(hub, FakeSocket())
    assert sub.wake.is_set() and not sub.attached and len(hub.fanout) == 0
