"""Worker lifecycle under load: shutdown, reload, recycling and hard deaths, with real gunicorn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.support import status
from tests.support.metrics import scrape
from tests.support.sse import SSEClient
from tests.support.streams import ManyStreams, raise_open_files_limit
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

GRACEFUL_TIMEOUT_SECONDS = 15  # gunicorn.conf.py
SNAPSHOT = b"event: full_snapshot"


@pytest.fixture(autouse=True)
def open_files():
    raise_open_files_limit(8192)


def gauge_share(server, pid: int) -> float:
    """One worker's share of the active-connections gauge, read from its own file."""
    path = server.metrics_dir / f"gauge_livesum_{pid}.db"
    if not path.exists():  # the worker is still booting
        return 0.0
    for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
        if json.loads(key)[0] == "g6_sse_http_active_connections":
            return value
    return 0.0


def assert_only_live_and_archive_files(server) -> None:
    """Dead workers' files were folded away: only live workers' files and archives remain."""
    allowed = {str(pid) for pid in server.worker_pids()} | {"archive"}
    owners = {path.stem.rsplit("_", 1)[1] for path in server.metrics_dir.glob("*.db")}
    assert owners <= allowed, owners - allowed
    assert (server.metrics_dir / "counter_archive.db").exists()


def assert_all_said_bye(streams: ManyStreams) -> None:
    byes = [stream.bye() for stream in streams.streams]
    assert all(bye is not None for bye in byes)
    assert {data for _, data in byes} == {b'{"reason":"shutdown"}'}
    retries = [retry for retry, _ in byes]
    assert all(retry is not None and 3000 <= retry <= 15000 for retry in retries)
    assert len(set(retries)) > 1  # randomised, not one instant for everyone


def test_lifecycle_sigterm_with_1000_streams_byes_all_before_graceful_timeout(gunicorn_server):
    """SIGTERM with 1,000 open streams: each gets bye and ends; the master exits 0 in time."""
    server = gunicorn_server(workers=2)
    with ManyStreams(server.url, 1000) as streams:
        streams.pump(lambda ss: all(s.has(SNAPSHOT) for s in ss), 40, "1000 snapshots")
        shares = {pid: gauge_share(server, pid) for pid in server.worker_pids()}
        assert sum(shares.values()) == 1000 and all(shares.values()), shares
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        streams.pump(lambda ss: all(s.finished for s in ss), GRACEFUL_TIMEOUT_SECONDS, "all ended")
        assert_all_said_bye(streams)
    assert server.wait(timeout_seconds=GRACEFUL_TIMEOUT_SECONDS) == 0
    assert time.monotonic() - started < GRACEFUL_TIMEOUT_SECONDS
    assert "Worker graceful timeout" not in server.log()


def test_lifecycle_sighup_replaces_workers_whose_streams_say_bye(gunicorn_server):
    """SIGHUP: every stream of the old workers gets bye and ends; new workers serve streams."""
    server = gunicorn_server(workers=2)
    old = set(server.worker_pids())
    with ManyStreams(server.url, 200) as streams:
        streams.pump(lambda ss: all(s.has(SNAPSHOT) for s in ss), 20, "200 snapshots")
        server.signal(signal.SIGHUP)
        streams.pump(lambda ss: all(s.finished for s in ss), GRACEFUL_TIMEOUT_SECONDS, "all ended")
        assert_all_said_bye(streams)
    wait_until(lambda: len(server.worker_pids()) == 2 and not old & set(server.worker_pids()),
               timeout_seconds=20, message="two new workers")
    with SSEClient.connect(server.url) as client:
        assert client.next_event().type == "hello"
    wait_until(lambda: scrape(server)["g6_sse_http_active_connections"] == 0,
               message="gauge back to 0")
    assert scrape(server)["g6_sse_http_connections_total"] == 201
    assert "Worker graceful timeout" not in server.log()


def test_lifecycle_max_requests_recycles_workers_with_bye(gunicorn_server):
    """max_requests: a recycled worker's streams get bye and end; replacements answer."""
    server = gunicorn_server(workers=2, env={"G6_MAX_REQUESTS": "30"})
    old = set(server.worker_pids())
    with ManyStreams(server.url, 20) as streams:
        streams.pump(lambda ss: all(s.has(SNAPSHOT) for s in ss), 20, "20 snapshots")

        def recycled() -> bool:
            with contextlib.suppress(OSError):  # both may be restarting: wait in the backlog
                server.get_json("/healthz")
            return not old & set(server.worker_pids())

        wait_until(recycled, timeout_seconds=40, interval_seconds=0.01, message="both recycled")
        streams.pump(lambda ss: all(s.finished for s in ss), GRACEFUL_TIMEOUT_SECONDS, "all ended")
        assert_all_said_bye(streams)
    wait_until(lambda: len(server.worker_pids()) == 2, timeout_seconds=20, message="2 workers")
    assert server.get_json("/healthz")[0] == 200
    assert_only_live_and_archive_files(server)
    assert scrape(server)["g6_sse_http_connections_total"] == 20
    assert "Worker graceful timeout" not in server.log()


def test_lifecycle_sigkill_loses_only_the_victims_streams(gunicorn_server):
    """SIGKILL: the victim's streams end, the gauge drops by its share, totals keep its counts,
    and every other stream still receives updates."""
    server = gunicorn_server(workers=2, env={"G6_SUMMARY_REFRESH_SEC": "0.1"})
    with ManyStreams(server.url) as streams:
        victim, other = server.worker_pids()
        while not (gauge_share(server, victim) and gauge_share(server, other)):
            assert len(streams.streams) < 600, "one worker accepted every stream"
            streams.open(20)
            streams.pump(lambda ss: all(s.has(SNAPSHOT) for s in ss), 20, "snapshots")
        total = len(streams.streams)
        share = gauge_share(server, victim)
        before = scrape(server)
        os.kill(victim, signal.SIGKILL)
        streams.pump(lambda ss: sum(s.finished for s in ss) == share, 10, "victim's streams end")
        for stream in streams.streams:
            stream.data = b""
        status.write(server.status_file, status.with_ltp(status.load(), "NIFTY", 20222.5))
        survivors = [s for s in streams.streams if not s.ended]
        streams.pump(lambda ss: all(s.has(b"event: panel_update") for s in survivors), 10,
                     "survivors updated")
        assert len(survivors) == total - share
        assert not any(s.has(b"event: bye") for s in survivors)
        wait_until(lambda: scrape(server)["g6_sse_http_active_connections"] == total - share,
                   message="gauge without the victim's share")
        after = scrape(server)
    assert after["g6_sse_http_connections_total"] == before["g6_sse_http_connections_total"] == total
    assert after["g6_sse_http_events_sent_total"] >= before["g6_sse_http_events_sent_total"]
    assert_only_live_and_archive_files(server)
